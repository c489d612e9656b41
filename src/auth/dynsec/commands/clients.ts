// Client commands: createClient, deleteClient, enableClient, disableClient, setClientId,
// setClientPassword, modifyClient, getClient, listClients, addClientRole, removeClientRole
// (plugins/dynamic-security/clients.c, Mosquitto 2.0). A change to a client disconnects it.

import { clientJson } from '../file.js';
import { boolField, field, intField, isObject, stringField, validUtf8 } from '../json-fields.js';
import { addRoleLink, NO_PRIORITY, type DynsecClient } from '../model.js';
import { newPassword } from '../password.js';
import { fail, ok, page, type Command, type CommandContext } from './context.js';
import { nameField, rawNameField } from './names.js';
import { roleLinksFrom } from './role-links.js';

/** The client named by the command's username, or the reply when there is none. */
function findClient(context: CommandContext, username: string): DynsecClient | undefined {
  return context.state.clients.get(username);
}

const createClient: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const password = stringField(command, 'password');
  if (password === 'invalid') return fail('Invalid/missing password');
  const clientid = stringField(command, 'clientid');
  if (clientid === 'invalid') return fail('Invalid/missing client id');
  if (clientid !== undefined && !validUtf8(clientid)) return fail('Client ID not valid UTF-8');
  const textname = stringField(command, 'textname');
  if (textname === 'invalid') return fail('Invalid/missing textname');
  const textdescription = stringField(command, 'textdescription');
  if (textdescription === 'invalid') return fail('Invalid/missing textdescription');
  const { state } = context;
  if (state.clients.has(user.name)) return fail('Client already exists');

  const roles = roleLinksFrom(state, command);
  if (roles === 'role not found') return fail('Role not found');
  if (roles === 'invalid') return fail("'roles' not an array or missing/invalid rolename");
  const client: DynsecClient = {
    username: user.name,
    clientid: clientid === undefined || clientid === '' ? undefined : clientid,
    textname,
    textdescription,
    disabled: false,
    password: password === undefined ? undefined : newPassword(password),
    roles: roles === 'absent' ? [] : roles.links,
    groups: [],
  };
  state.clients.set(client.username, client);
  const groups = field(command, 'groups');
  if (Array.isArray(groups)) {
    for (const entry of groups) {
      if (!isObject(entry)) continue;
      const groupname = field(entry, 'groupname');
      if (typeof groupname !== 'string') continue;
      const group = state.groups.get(groupname);
      if (group === undefined) {
        state.deleteClient(client);
        return fail('Group not found');
      }
      state.addMember(client, group, intField(entry, 'priority', NO_PRIORITY));
    }
  }
  context.save();
  context.log(`createClient | username=${user.name} | password=${password === undefined ? 'no password' : '*****'}`);
  return ok;
};

const deleteClient: Command = (context, command) => {
  const user = rawNameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  context.state.deleteClient(client);
  context.save();
  context.kick(user.name);
  context.log(`deleteClient | username=${user.name}`);
  return ok;
};

function setDisabled(name: string, disabled: boolean): Command {
  return (context, command) => {
    const user = nameField(command, 'username');
    if ('error' in user) return fail(user.error);
    const client = findClient(context, user.name);
    if (client === undefined) return fail('Client not found');
    client.disabled = disabled;
    if (disabled) context.kick(user.name);
    context.save();
    context.log(`${name} | username=${user.name}`);
    return ok;
  };
}

const setClientId: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const clientid = stringField(command, 'clientid');
  if (clientid === 'invalid') return fail('Invalid/missing client ID');
  if (clientid !== undefined && !validUtf8(clientid)) return fail('Client ID not valid UTF-8');
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  client.clientid = clientid === undefined || clientid === '' ? undefined : clientid;
  context.save();
  context.kick(user.name);
  context.log(`setClientId | username=${user.name} | clientid=${client.clientid ?? '(null)'}`);
  return ok;
};

const setClientPassword: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const password = stringField(command, 'password');
  if (password === undefined || password === 'invalid') return fail('Invalid/missing password');
  if (password === '') return fail('Empty password is not allowed');
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  client.password = newPassword(password);
  context.save();
  context.kick(user.name);
  context.log(`setClientPassword | username=${user.name} | password=******`);
  return ok;
};

const modifyClient: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  const { state } = context;
  // Fields are applied one by one; a bad role list stops there, as in the plugin.
  const clientid = stringField(command, 'clientid');
  if (typeof clientid === 'string' && clientid !== 'invalid') client.clientid = clientid === '' ? undefined : clientid;
  const password = stringField(command, 'password');
  if (typeof password === 'string' && password !== 'invalid' && password !== '') client.password = newPassword(password);
  const textname = stringField(command, 'textname');
  if (textname !== undefined && textname !== 'invalid') client.textname = textname;
  const textdescription = stringField(command, 'textdescription');
  if (textdescription !== undefined && textdescription !== 'invalid') client.textdescription = textdescription;
  const roles = roleLinksFrom(state, command);
  if (roles === 'role not found' || roles === 'invalid') {
    context.kick(user.name);
    return fail(roles === 'invalid' ? "'roles' not an array or missing/invalid rolename" : 'Role not found');
  }
  if (roles !== 'absent') client.roles = roles.links;
  const groups = field(command, 'groups');
  if (Array.isArray(groups)) {
    for (const link of [...client.groups]) {
      const group = state.groups.get(link.groupname);
      if (group !== undefined) state.removeMember(client, group);
    }
    for (const entry of groups) {
      if (!isObject(entry)) continue;
      const group = state.groups.get(String(field(entry, 'groupname')));
      if (group !== undefined && typeof field(entry, 'groupname') === 'string') state.addMember(client, group, intField(entry, 'priority', NO_PRIORITY));
    }
  }
  context.save();
  context.kick(user.name);
  context.log(`modifyClient | username=${user.name}`);
  return ok;
};

const getClient: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  return { data: { client: clientJson(client) } };
};

const listClients: Command = (context, command) => {
  const verbose = boolField(command, 'verbose', false);
  const all = context.state.sortedClients();
  const shown = page(all, intField(command, 'count', -1), intField(command, 'offset', 0));
  return { data: { totalCount: all.length, clients: shown.map((client) => (verbose ? clientJson(client) : client.username)) } };
};

const addClientRole: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const role = nameField(command, 'rolename');
  if ('error' in role) return fail(role.error);
  const priority = intField(command, 'priority', NO_PRIORITY);
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  if (!context.state.roles.has(role.name)) return fail('Role not found');
  // Mosquitto 2.0 answers a role the client already has with "Internal error".
  if (!addRoleLink(client.roles, role.name, priority)) return fail('Internal error');
  context.save();
  context.kick(user.name);
  context.log(`addClientRole | username=${user.name} | rolename=${role.name} | priority=${priority}`);
  return ok;
};

const removeClientRole: Command = (context, command) => {
  const user = nameField(command, 'username');
  if ('error' in user) return fail(user.error);
  const role = nameField(command, 'rolename');
  if ('error' in role) return fail(role.error);
  const client = findClient(context, user.name);
  if (client === undefined) return fail('Client not found');
  if (!context.state.roles.has(role.name)) return fail('Role not found');
  client.roles = client.roles.filter((link) => link.rolename !== role.name);
  context.save();
  context.kick(user.name);
  context.log(`removeClientRole | username=${user.name} | rolename=${role.name}`);
  return ok;
};

export const clientCommands: Readonly<Record<string, Command>> = {
  createClient,
  deleteClient,
  enableClient: setDisabled('enableClient', false),
  disableClient: setDisabled('disableClient', true),
  setClientId,
  setClientPassword,
  modifyClient,
  getClient,
  listClients,
  addClientRole,
  removeClientRole,
};
