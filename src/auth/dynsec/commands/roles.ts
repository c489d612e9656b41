// Role commands: createRole, deleteRole, modifyRole, getRole, listRoles, addRoleACL, removeRoleACL
// (plugins/dynamic-security/roles.c, Mosquitto 2.0). A change to a role's ACLs disconnects every
// client that holds it, directly or through a group.

import { aclFilterProblem } from '../../acl-match.js';
import { roleJson } from '../file.js';
import { boolField, field, intField, isObject, stringField, validUtf8, type JsonObject } from '../json-fields.js';
import { aclTypeNamed, emptyAcls, insertAcl, type AclType, type DynsecRole } from '../model.js';
import { fail, ok, page, type Command, type CommandContext } from './context.js';
import { nameField } from './names.js';

function kickHolders(context: CommandContext, rolename: string): void {
  const holders = context.state.holdersOf(rolename);
  if (holders.anonymous) context.kickAnonymous();
  for (const username of holders.usernames) context.kick(username);
}

/** An `acls` list as createRole and modifyRole take it: unusable entries are skipped. */
function aclsFrom(list: readonly unknown[]): DynsecRole['acls'] {
  const acls = emptyAcls();
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const typeName = field(entry, 'acltype');
    const type = typeof typeName === 'string' ? aclTypeNamed(typeName) : undefined;
    const topic = field(entry, 'topic');
    if (type === undefined || typeof topic !== 'string') continue;
    if (acls[type].some((acl) => acl.topic === topic)) continue;
    insertAcl(acls[type], { topic, priority: intField(entry, 'priority', 0), allow: boolField(entry, 'allow', false) });
  }
  return acls;
}

const createRole: Command = (context, command) => {
  const name = nameField(command, 'rolename');
  if ('error' in name) return fail(name.error);
  const textname = stringField(command, 'textname');
  if (textname === 'invalid') return fail('Invalid/missing textname');
  const textdescription = stringField(command, 'textdescription');
  if (textdescription === 'invalid') return fail('Invalid/missing textdescription');
  if (context.state.roles.has(name.name)) return fail('Role already exists');
  const list = field(command, 'acls');
  context.state.roles.set(name.name, { rolename: name.name, textname, textdescription, acls: Array.isArray(list) ? aclsFrom(list) : emptyAcls() });
  context.save();
  context.log(`createRole | rolename=${name.name}`);
  return ok;
};

const deleteRole: Command = (context, command) => {
  const name = nameField(command, 'rolename');
  if ('error' in name) return fail(name.error);
  const role = context.state.roles.get(name.name);
  if (role === undefined) return fail('Role not found');
  kickHolders(context, role.rolename);
  context.state.deleteRole(role);
  context.save();
  context.log(`deleteRole | rolename=${name.name}`);
  return ok;
};

const modifyRole: Command = (context, command) => {
  const name = nameField(command, 'rolename');
  if ('error' in name) return fail(name.error);
  const role = context.state.roles.get(name.name);
  if (role === undefined) return fail('Role does not exist');
  const textname = stringField(command, 'textname');
  if (textname !== undefined && textname !== 'invalid') role.textname = textname;
  const textdescription = stringField(command, 'textdescription');
  if (textdescription !== undefined && textdescription !== 'invalid') role.textdescription = textdescription;
  const list = field(command, 'acls');
  if (Array.isArray(list)) {
    role.acls = aclsFrom(list);
    kickHolders(context, role.rolename);
  }
  context.save();
  context.log(`modifyRole | rolename=${name.name}`);
  return ok;
};

const getRole: Command = (context, command) => {
  const name = nameField(command, 'rolename');
  if ('error' in name) return fail(name.error);
  const role = context.state.roles.get(name.name);
  if (role === undefined) return fail('Role not found');
  return { data: { role: roleJson(role) } };
};

const listRoles: Command = (context, command) => {
  const verbose = boolField(command, 'verbose', false);
  const all = context.state.sortedRoles();
  const shown = page(all, intField(command, 'count', -1), intField(command, 'offset', 0));
  return { data: { totalCount: all.length, roles: shown.map((role) => (verbose ? roleJson(role) : role.rolename)) } };
};

/** The role, ACL type and topic an ACL command names, or its error. */
function aclTarget(context: CommandContext, command: JsonObject): { role: DynsecRole; type: AclType; topic: string } | { error: string } {
  const name = nameField(command, 'rolename');
  if ('error' in name) return name;
  const role = context.state.roles.get(name.name);
  if (role === undefined) return { error: 'Role not found' };
  const typeName = field(command, 'acltype');
  if (typeof typeName !== 'string') return { error: 'Invalid/missing acltype' };
  const type = aclTypeNamed(typeName);
  if (type === undefined) return { error: 'Unknown acltype' };
  const topic = stringField(command, 'topic');
  if (topic === undefined || topic === 'invalid') return { error: 'Invalid/missing topic' };
  if (!validUtf8(topic)) return { error: 'Topic not valid UTF-8' };
  // mosquitto_sub_topic_check: wildcards whole levels, '#' last (an empty topic passes)
  if (topic !== '' && aclFilterProblem(topic) !== undefined) return { error: 'Invalid ACL topic' };
  return { role, type, topic };
}

const addRoleACL: Command = (context, command) => {
  const target = aclTarget(context, command);
  if ('error' in target) return fail(target.error);
  const { role, type, topic } = target;
  if (role.acls[type].some((acl) => acl.topic === topic)) return fail('ACL with this topic already exists');
  const acl = { topic, priority: intField(command, 'priority', 0), allow: boolField(command, 'allow', false) };
  insertAcl(role.acls[type], acl);
  context.save();
  kickHolders(context, role.rolename);
  context.log(`addRoleACL | rolename=${role.rolename} | acltype=${type} | topic=${topic} | priority=${acl.priority} | allow=${acl.allow}`);
  return ok;
};

const removeRoleACL: Command = (context, command) => {
  const target = aclTarget(context, command);
  if ('error' in target) return fail(target.error);
  const { role, type, topic } = target;
  if (!role.acls[type].some((acl) => acl.topic === topic)) return fail('ACL not found');
  role.acls[type] = role.acls[type].filter((acl) => acl.topic !== topic);
  context.save();
  kickHolders(context, role.rolename);
  context.log(`removeRoleACL | rolename=${role.rolename} | acltype=${type} | topic=${topic}`);
  return ok;
};

export const roleCommands: Readonly<Record<string, Command>> = { createRole, deleteRole, modifyRole, getRole, listRoles, addRoleACL, removeRoleACL };
