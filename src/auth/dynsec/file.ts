// The dynamic-security JSON file: read as the 2.0 plugin reads it (entries it cannot use are skipped,
// links to unknown roles, groups or clients are dropped), written in its layout, atomically: the new
// text goes to FILE.new, then is renamed over FILE, so a crash never leaves half a file.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { boolField, field, intField, isObject, type Json, type JsonObject } from './json-fields.js';
import { aclTypeNamed, aclTypes, addRoleLink, defaultAccessTypes, DynsecState, emptyAcls, insertAcl, NO_PRIORITY, type DynsecClient, type DynsecGroup, type DynsecRole, type RoleLink, type StoredPassword } from './model.js';
import { HASH_LENGTH, MAX_SALT_LENGTH } from './password.js';

/** A file that cannot be used at all: not JSON, or a top-level list of the wrong type. */
export class DynsecFileError extends Error {}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function decodeBase64(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}

function loadRoles(state: DynsecState, list: unknown): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new DynsecFileError('"roles" is not an array');
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const rolename = text(field(entry, 'rolename'));
    if (rolename === undefined || state.roles.has(rolename)) continue;
    const role: DynsecRole = { rolename, textname: text(field(entry, 'textname')), textdescription: text(field(entry, 'textdescription')), acls: emptyAcls() };
    const acls = field(entry, 'acls');
    if (Array.isArray(acls)) {
      for (const acl of acls) {
        if (!isObject(acl)) continue;
        const typeName = text(field(acl, 'acltype'));
        const type = typeName === undefined ? undefined : aclTypeNamed(typeName);
        const topic = text(field(acl, 'topic'));
        if (type === undefined || topic === undefined) continue;
        if (role.acls[type].some((existing) => existing.topic === topic)) continue;
        insertAcl(role.acls[type], { topic, priority: intField(acl, 'priority', 0), allow: boolField(acl, 'allow', false) });
      }
    }
    state.roles.set(rolename, role);
  }
}

/** A role list of a client or group; links to roles that do not exist are dropped, as the plugin does. */
function loadRoleLinks(state: DynsecState, list: unknown): RoleLink[] {
  const links: RoleLink[] = [];
  if (!Array.isArray(list)) return links;
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const rolename = text(field(entry, 'rolename'));
    if (rolename === undefined || !state.roles.has(rolename)) continue;
    addRoleLink(links, rolename, intField(entry, 'priority', NO_PRIORITY));
  }
  return links;
}

function loadPassword(entry: JsonObject): StoredPassword | undefined | 'unusable' {
  const salt = field(entry, 'salt');
  const hash = field(entry, 'password');
  const iterations = field(entry, 'iterations');
  if (typeof salt !== 'string' || typeof hash !== 'string' || typeof iterations !== 'number') return undefined;
  const rounds = Math.trunc(iterations);
  if (!(rounds >= 1)) return 'unusable';
  const saltBytes = decodeBase64(salt);
  const hashBytes = decodeBase64(hash);
  if (saltBytes === undefined || saltBytes.length > MAX_SALT_LENGTH || hashBytes === undefined || hashBytes.length !== HASH_LENGTH) return 'unusable';
  return { salt: saltBytes, hash: hashBytes, iterations: Math.min(rounds, 2147483647) };
}

function loadClients(state: DynsecState, list: unknown): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new DynsecFileError('"clients" is not an array');
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const username = text(field(entry, 'username'));
    if (username === undefined || state.clients.has(username)) continue;
    const password = loadPassword(entry);
    if (password === 'unusable') continue; // the plugin skips a client whose password it cannot read
    const client: DynsecClient = {
      username,
      clientid: text(field(entry, 'clientid')),
      textname: text(field(entry, 'textname')),
      textdescription: text(field(entry, 'textdescription')),
      disabled: field(entry, 'disabled') === true,
      password,
      roles: loadRoleLinks(state, field(entry, 'roles')),
      groups: [],
    };
    state.clients.set(username, client);
  }
}

function loadGroups(state: DynsecState, list: unknown, anonymous: unknown): void {
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new DynsecFileError('"groups" is not an array');
    for (const entry of list) {
      if (!isObject(entry)) continue;
      const groupname = text(field(entry, 'groupname'));
      if (groupname === undefined || state.groups.has(groupname)) continue;
      const group: DynsecGroup = { groupname, textname: text(field(entry, 'textname')), textdescription: text(field(entry, 'textdescription')), roles: loadRoleLinks(state, field(entry, 'roles')), clients: [] };
      state.groups.set(groupname, group);
      const members = field(entry, 'clients');
      if (!Array.isArray(members)) continue;
      for (const member of members) {
        if (!isObject(member)) continue;
        const client = state.clients.get(text(field(member, 'username')) ?? '');
        if (client !== undefined) state.addMember(client, group, intField(member, 'priority', NO_PRIORITY));
      }
    }
  }
  const name = text(anonymous);
  if (name !== undefined && state.groups.has(name)) state.anonymousGroup = name;
}

/** Parses the file's text; throws DynsecFileError when it is not usable at all. */
export function parseDynsecJson(source: string): DynsecState {
  let tree: unknown;
  try {
    tree = JSON.parse(source);
  } catch {
    throw new DynsecFileError('File is not valid JSON.');
  }
  const state = new DynsecState();
  if (!isObject(tree)) return state;
  const defaults = field(tree, 'defaultACLAccess');
  if (isObject(defaults)) {
    for (const type of defaultAccessTypes) state.defaultAccess[type] = field(defaults, type) === true;
  }
  loadRoles(state, field(tree, 'roles'));
  loadClients(state, field(tree, 'clients'));
  loadGroups(state, field(tree, 'groups'), field(tree, 'anonymousGroup'));
  return state;
}

export function loadDynsecFile(path: string): DynsecState {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DynsecFileError(`File is not readable - check permissions (${(error as NodeJS.ErrnoException).code ?? String(error)}).`);
  }
  // An empty file is an empty configuration, as the plugin treats it.
  return source.trim() === '' ? new DynsecState() : parseDynsecJson(source);
}

/** A link as the plugin writes it: the name, and the priority unless it is the default. */
function linkJson(key: string, name: string, priority: number): Json {
  const out: { [key: string]: Json } = { [key]: name };
  if (priority !== NO_PRIORITY) out.priority = priority;
  return out;
}

const roleLinksJson = (links: readonly RoleLink[]): Json[] => links.map((link) => linkJson('rolename', link.rolename, link.priority));

function optional(object: { [key: string]: Json }, key: string, value: string | undefined): void {
  if (value !== undefined) object[key] = value;
}

export function roleJson(role: DynsecRole): { [key: string]: Json } {
  const out: { [key: string]: Json } = { rolename: role.rolename };
  optional(out, 'textname', role.textname);
  optional(out, 'textdescription', role.textdescription);
  out.acls = aclTypes.flatMap((type) => role.acls[type].map((acl) => ({ acltype: type, topic: acl.topic, priority: acl.priority, allow: acl.allow })));
  return out;
}

/** The client as getClient and listClients show it. */
export function clientJson(client: DynsecClient): { [key: string]: Json } {
  const out: { [key: string]: Json } = { username: client.username };
  optional(out, 'clientid', client.clientid);
  optional(out, 'textname', client.textname);
  optional(out, 'textdescription', client.textdescription);
  if (client.disabled) out.disabled = true;
  out.roles = roleLinksJson(client.roles);
  out.groups = client.groups.map((link) => linkJson('groupname', link.groupname, link.priority));
  return out;
}

/** The group as getGroup and listGroups show it (members without their priorities). */
export function groupJson(group: DynsecGroup): { [key: string]: Json } {
  const out: { [key: string]: Json } = { groupname: group.groupname };
  optional(out, 'textname', group.textname);
  optional(out, 'textdescription', group.textdescription);
  out.clients = group.clients.map((member) => ({ username: member.username }));
  out.roles = roleLinksJson(group.roles);
  return out;
}

/** The whole state in the file's layout and key order. */
export function dynsecJson(state: DynsecState): Json {
  const clients = state.sortedClients().map((client) => {
    const out: { [key: string]: Json } = { username: client.username };
    optional(out, 'clientid', client.clientid);
    optional(out, 'textname', client.textname);
    optional(out, 'textdescription', client.textdescription);
    if (client.disabled) out.disabled = true;
    out.roles = roleLinksJson(client.roles);
    if (client.password !== undefined) {
      out.password = client.password.hash.toString('base64');
      out.salt = client.password.salt.toString('base64');
      out.iterations = client.password.iterations;
    }
    return out;
  });
  const groups = state.sortedGroups().map((group) => {
    const out: { [key: string]: Json } = { groupname: group.groupname };
    optional(out, 'textname', group.textname);
    optional(out, 'textdescription', group.textdescription);
    out.roles = roleLinksJson(group.roles);
    out.clients = group.clients.map((member) => linkJson('username', member.username, member.priority));
    return out;
  });
  const tree: { [key: string]: Json } = { defaultACLAccess: { ...state.defaultAccess }, clients, groups };
  if (state.anonymousGroup !== undefined) tree.anonymousGroup = state.anonymousGroup;
  tree.roles = state.sortedRoles().map(roleJson);
  return tree;
}

/** Writes FILE.new then renames it over FILE. */
export function saveDynsecFile(path: string, state: DynsecState): void {
  const temporary = `${path}.new`;
  writeFileSync(temporary, `${JSON.stringify(dynsecJson(state), null, '\t')}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}
