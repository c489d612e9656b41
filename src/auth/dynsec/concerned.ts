// Whom a change between two dynamic-security configurations concerns, when only the two
// configurations are known (a cluster node that missed the control messages that made it, while it
// was cut off from Redis): the clients whose login or access may differ, which the control
// commands disconnect when they make such a change (commands/*.ts): a client deleted or disabled,
// its password, client id, roles or groups changed, a group or role it holds changed; the clients
// without a username when the anonymous group, or its roles, changed. Text names and descriptions,
// roles and groups no client holds, and the default access disconnect nobody, as with the commands.

import type { DynsecState, RoleLink } from './model.js';

/** Usernames whose connected clients are to be disconnected, and whether those without a username are. */
export interface Concerned {
  readonly kick: readonly string[];
  readonly kickAnonymous: boolean;
}

export function concernedBy(before: DynsecState, after: DynsecState): Concerned {
  const kick: string[] = [];
  for (const [username, client] of before.clients) {
    const next = after.clients.get(username);
    // enabling a client concerns nobody: a disabled client cannot be connected
    if (next === undefined || (next.disabled && !client.disabled) || clientAccess(before, username) !== clientAccess(after, username)) kick.push(username);
  }
  return { kick, kickAnonymous: anonymousAccess(before) !== anonymousAccess(after) };
}

/** Everything deciding a client's login and access, as comparable text (disabled aside). */
function clientAccess(state: DynsecState, username: string): string {
  const client = state.clients.get(username)!;
  const password = client.password === undefined ? null : [client.password.hash.toString('base64'), client.password.salt.toString('base64'), client.password.iterations];
  const groups = client.groups.map((link) => [link.groupname, link.priority, groupAccess(state, link.groupname)]);
  return JSON.stringify([client.clientid ?? null, password, rolesAccess(state, client.roles), groups]);
}

function anonymousAccess(state: DynsecState): string {
  return JSON.stringify(state.anonymousGroup === undefined ? null : [state.anonymousGroup, groupAccess(state, state.anonymousGroup)]);
}

function groupAccess(state: DynsecState, groupname: string): unknown {
  const group = state.groups.get(groupname);
  return group === undefined ? null : rolesAccess(state, group.roles);
}

function rolesAccess(state: DynsecState, links: readonly RoleLink[]): unknown {
  return links.map((link) => [link.rolename, link.priority, state.roles.get(link.rolename)?.acls ?? null]);
}
