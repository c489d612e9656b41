// Group commands: createGroup, deleteGroup, modifyGroup, getGroup, listGroups, addGroupClient,
// removeGroupClient, addGroupRole, removeGroupRole, setAnonymousGroup, getAnonymousGroup
// (plugins/dynamic-security/groups.c, Mosquitto 2.0). A change to a group disconnects its members.

import { groupJson } from '../file.js';
import { boolField, field, intField, isObject, stringField } from '../json-fields.js';
import { addRoleLink, NO_PRIORITY, type DynsecGroup } from '../model.js';
import { fail, ok, page, type Command, type CommandContext } from './context.js';
import { nameField } from './names.js';
import { roleLinksFrom } from './role-links.js';

/** Disconnects every member (and the anonymous clients when this is the anonymous group). */
export function kickGroup(context: CommandContext, group: DynsecGroup): void {
  if (context.state.anonymousGroup === group.groupname) context.kickAnonymous();
  for (const member of group.clients) context.kick(member.username);
}

const createGroup: Command = (context, command) => {
  const group = nameField(command, 'groupname');
  if ('error' in group) return fail(group.error);
  const textname = stringField(command, 'textname');
  if (textname === 'invalid') return fail('Invalid/missing textname');
  const textdescription = stringField(command, 'textdescription');
  if (textdescription === 'invalid') return fail('Invalid/missing textdescription');
  const { state } = context;
  if (state.groups.has(group.name)) return fail('Group already exists');
  const roles = roleLinksFrom(state, command);
  if (roles === 'role not found') return fail('Role not found');
  if (roles === 'invalid') return fail('Internal error');
  state.groups.set(group.name, { groupname: group.name, textname, textdescription, roles: roles === 'absent' ? [] : roles.links, clients: [] });
  context.log(`createGroup | groupname=${group.name}`);
  context.save();
  return ok;
};

const deleteGroup: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const group = context.state.groups.get(name.name);
  if (group === undefined) return fail('Group not found');
  kickGroup(context, group);
  context.state.deleteGroup(group);
  context.save();
  context.log(`deleteGroup | groupname=${name.name}`);
  return ok;
};

const addGroupClient: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const priority = intField(command, 'priority', NO_PRIORITY);
  const { state } = context;
  const client = state.clients.get(user.name);
  const group = state.groups.get(name.name);
  let result = ok;
  if (client === undefined) result = fail('Client not found');
  else if (group === undefined) result = fail('Group not found');
  else if (!state.addMember(client, group, priority)) result = fail('Client is already in this group');
  else {
    context.save();
    context.log(`addGroupClient | groupname=${name.name} | username=${user.name} | priority=${priority}`);
  }
  context.kick(user.name); // the plugin disconnects the client whatever the outcome
  return result;
};

const removeGroupClient: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const { state } = context;
  const client = state.clients.get(user.name);
  const group = state.groups.get(name.name);
  let result = ok;
  if (client === undefined) result = fail('Client not found');
  else if (group === undefined) result = fail('Group not found');
  else {
    state.removeMember(client, group);
    context.save();
    context.log(`removeGroupClient | groupname=${name.name} | username=${user.name}`);
  }
  context.kick(user.name);
  return result;
};

const getGroup: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const group = context.state.groups.get(name.name);
  if (group === undefined) return fail('Group not found');
  return { data: { group: groupJson(group) } };
};

const listGroups: Command = (context, command) => {
  const verbose = boolField(command, 'verbose', false);
  const all = context.state.sortedGroups();
  const shown = page(all, intField(command, 'count', -1), intField(command, 'offset', 0));
  return { data: { totalCount: all.length, groups: shown.map((group) => (verbose ? groupJson(group) : group.groupname)) } };
};

const addGroupRole: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const role = nameField(command, 'rolename');
  if ('error' in role) return fail(role.error);
  const priority = intField(command, 'priority', NO_PRIORITY);
  const group = context.state.groups.get(name.name);
  if (group === undefined) return fail('Group not found');
  if (!context.state.roles.has(role.name)) return fail('Role not found');
  if (!addRoleLink(group.roles, role.name, priority)) return fail('Group is already in this role');
  context.log(`addGroupRole | groupname=${name.name} | rolename=${role.name} | priority=${priority}`);
  context.save();
  kickGroup(context, group);
  return ok;
};

const removeGroupRole: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const role = nameField(command, 'rolename');
  if ('error' in role) return fail(role.error);
  const group = context.state.groups.get(name.name);
  if (group === undefined) return fail('Group not found');
  if (!context.state.roles.has(role.name)) return fail('Role not found');
  group.roles = group.roles.filter((link) => link.rolename !== role.name);
  context.save();
  kickGroup(context, group);
  context.log(`removeGroupRole | groupname=${name.name} | rolename=${role.name}`);
  return ok;
};

const modifyGroup: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  const { state } = context;
  const group = state.groups.get(name.name);
  if (group === undefined) return fail('Group not found');
  const textname = stringField(command, 'textname');
  if (textname !== undefined && textname !== 'invalid') group.textname = textname;
  const textdescription = stringField(command, 'textdescription');
  if (textdescription !== undefined && textdescription !== 'invalid') group.textdescription = textdescription;
  const roles = roleLinksFrom(state, command);
  if (roles === 'role not found' || roles === 'invalid') {
    kickGroup(context, group);
    return fail(roles === 'invalid' ? "'roles' not an array or missing/invalid rolename" : 'Role not found');
  }
  if (roles !== 'absent') group.roles = roles.links;
  const clients = field(command, 'clients');
  if (Array.isArray(clients)) {
    for (const member of [...group.clients]) {
      const client = state.clients.get(member.username);
      if (client !== undefined) state.removeMember(client, group);
    }
    for (const entry of clients) {
      if (!isObject(entry)) continue;
      const username = field(entry, 'username');
      const client = typeof username === 'string' ? state.clients.get(username) : undefined;
      if (client !== undefined) state.addMember(client, group, intField(entry, 'priority', NO_PRIORITY));
    }
  }
  context.save();
  kickGroup(context, group);
  context.log(`modifyGroup | groupname=${name.name}`);
  return ok;
};

const setAnonymousGroup: Command = (context, command) => {
  const name = nameField(command, 'groupname');
  if ('error' in name) return fail(name.error);
  if (!context.state.groups.has(name.name)) return fail('Group not found');
  context.state.anonymousGroup = name.name;
  context.save();
  context.kickAnonymous();
  context.log(`setAnonymousGroup | groupname=${name.name}`);
  return ok;
};

const getAnonymousGroup: Command = (context) => ({ data: { group: { groupname: context.state.anonymousGroup ?? '' } } });

export const groupCommands: Readonly<Record<string, Command>> = {
  createGroup,
  deleteGroup,
  modifyGroup,
  getGroup,
  listGroups,
  addGroupClient,
  removeGroupClient,
  addGroupRole,
  removeGroupRole,
  setAnonymousGroup,
  getAnonymousGroup,
};
