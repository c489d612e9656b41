// Who may do what under dynamic security (acl.c, Mosquitto 2.0). For a client with a username the
// plugin looks at its own roles (highest priority first), then its groups' roles (group priority,
// then role priority); within a role, the ACLs of the asked type by priority. The first matching
// ACL decides. A client without a username uses the anonymous group. Nothing matched: the default
// access, except that `$CONTROL` topics must always be granted explicitly. A username the plugin
// does not know gets no answer ('defer'), which the broker treats as a denial.

import { filterMatches } from '../acl-match.js';
import type { DefaultAccessType, DynsecState, RoleLink } from './model.js';

export type Access = 'allow' | 'deny' | 'defer';

type Check = (rolename: string) => Access | undefined;

function checkRoles(links: readonly RoleLink[], check: Check): Access | undefined {
  for (const link of links) {
    const answer = check(link.rolename);
    if (answer !== undefined) return answer;
  }
  return undefined;
}

function decide(state: DynsecState, username: string | undefined, topic: string, defaultType: DefaultAccessType, check: Check): Access {
  if (username !== undefined) {
    const client = state.clients.get(username);
    if (client === undefined) return 'defer';
    const own = checkRoles(client.roles, check);
    if (own !== undefined) return own;
    for (const link of client.groups) {
      const group = state.groups.get(link.groupname);
      const answer = group === undefined ? undefined : checkRoles(group.roles, check);
      if (answer !== undefined) return answer;
    }
  } else if (state.anonymousGroup !== undefined) {
    const group = state.groups.get(state.anonymousGroup);
    const answer = group === undefined ? undefined : checkRoles(group.roles, check);
    if (answer !== undefined) return answer;
  }
  if (!state.defaultAccess[defaultType]) return 'defer';
  return topic.startsWith('$CONTROL') ? 'defer' : 'allow';
}

/** sub_acl_check: does the ACL filter cover the whole requested filter (wildcards included)? */
export function subscriptionCovered(acl: string, requested: string): boolean {
  if (acl === '#') return true;
  const strip = (filter: string): { text: string; hash: boolean } => {
    if (filter === '#') return { text: '', hash: true };
    if (filter.endsWith('/#')) return { text: filter.slice(0, -2), hash: true };
    return { text: filter, hash: false };
  };
  const a = strip(acl);
  const s = strip(requested);
  if (s.hash && !a.hash) return false;
  const aclLevels = a.text.split('/');
  const subLevels = s.text.split('/');
  if (aclLevels.length > subLevels.length) return false;
  if (subLevels.length > aclLevels.length && !a.hash) return false;
  for (let i = 0; i < subLevels.length; i++) {
    if (i < aclLevels.length && (aclLevels[i] === '+' || aclLevels[i] === subLevels[i])) continue;
    if (i >= aclLevels.length && a.hash) continue;
    return false;
  }
  return true;
}

export function publishAccess(state: DynsecState, direction: 'publishClientSend' | 'publishClientReceive', username: string | undefined, topic: string): Access {
  const topicLevels = topic.split('/');
  return decide(state, username, topic, direction, (rolename) => {
    const acls = state.roles.get(rolename)?.acls[direction];
    if (acls === undefined) return undefined;
    // mosquitto_topic_matches_sub: in Mosquitto 2.0 %c and %u are plain text here (2.1 substitutes them)
    for (const acl of acls) if (filterMatches(acl.topic.split('/'), topicLevels)) return acl.allow ? 'allow' : 'deny';
    return undefined;
  });
}

export function subscriptionAccess(state: DynsecState, kind: 'subscribe' | 'unsubscribe', username: string | undefined, filter: string): Access {
  const literal = kind === 'subscribe' ? 'subscribeLiteral' : 'unsubscribeLiteral';
  const pattern = kind === 'subscribe' ? 'subscribePattern' : 'unsubscribePattern';
  return decide(state, username, filter, kind, (rolename) => {
    const role = state.roles.get(rolename);
    if (role === undefined) return undefined;
    const exact = role.acls[literal].find((acl) => acl.topic === filter);
    if (exact !== undefined) return exact.allow ? 'allow' : 'deny';
    for (const acl of role.acls[pattern]) if (subscriptionCovered(acl.topic, filter)) return acl.allow ? 'allow' : 'deny';
    return undefined;
  });
}
