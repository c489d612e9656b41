// A first dynamic-security file, as `mosquitto_ctrl dynsec init FILE ADMIN` makes it: one client
// with the "admin" role, which may use the `$CONTROL/dynamic-security/#` API and read (not write)
// everything else; default access: publish off, receive on, subscribe off, unsubscribe on.

import { DynsecState, emptyAcls, insertAcl, type AclType } from './model.js';
import { newPassword } from './password.js';

const adminAcls: readonly (readonly [AclType, string])[] = [
  ['publishClientSend', '$CONTROL/dynamic-security/#'],
  ['publishClientReceive', '$CONTROL/dynamic-security/#'],
  ['subscribePattern', '$CONTROL/dynamic-security/#'],
  ['publishClientReceive', '$SYS/#'],
  ['subscribePattern', '$SYS/#'],
  ['publishClientReceive', '#'],
  ['subscribePattern', '#'],
  ['unsubscribePattern', '#'],
];

export function initialState(adminUser: string, adminPassword: string): DynsecState {
  const state = new DynsecState();
  const acls = emptyAcls();
  for (const [type, topic] of adminAcls) insertAcl(acls[type], { topic, priority: 0, allow: true });
  state.roles.set('admin', { rolename: 'admin', textname: undefined, textdescription: undefined, acls });
  state.clients.set(adminUser, {
    username: adminUser,
    clientid: undefined,
    textname: 'Dynsec admin user',
    textdescription: undefined,
    disabled: false,
    password: newPassword(adminPassword),
    roles: [{ rolename: 'admin', priority: -1 }],
    groups: [],
  });
  state.defaultAccess = { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true };
  return state;
}
