// The demo broker's dynamic-security file: the admin (the API, reading everything, writing orders),
// the recorder (reading readings) and one `sensor:<id>` role per sensor, made with the same
// `$CONTROL/dynamic-security/v1` commands an operator would send. A file left by an earlier run is
// kept, so that sensors added from the console survive a restart; the demo's own logins are made
// or updated in it, with the new passwords of this run.

import { existsSync } from 'node:fs';
import type { CommandContext } from '../auth/dynsec/commands/context.js';
import { runControlMessage } from '../auth/dynsec/control.js';
import { loadDynsecFile, saveDynsecFile } from '../auth/dynsec/file.js';
import { initialState } from '../auth/dynsec/init.js';
import type { DynsecState } from '../auth/dynsec/model.js';
import { sensorRoleAcls, sensorRoleName } from './console-web/sensor-role.js';
import type { DemoLogins } from './demo-files.js';
import type { FleetTopics } from './topics.js';

/** The role that lets the admin give orders, beside the `admin` role `dynsec init` makes. */
export const OPERATOR_ROLE = 'fleet-operator';
export const RECORDER_ROLE = 'recorder';

type Command = { readonly command: string; readonly [field: string]: unknown };

/** Runs commands as the broker would; returns each one's error (undefined on success). */
function runner(state: DynsecState): (command: Command) => string | undefined {
  const context: CommandContext = { state, admin: 'culex demo', save: () => {}, kick: () => {}, kickAnonymous: () => {}, log: () => {} };
  return (command) => {
    const [response] = runControlMessage(context, Buffer.from(JSON.stringify({ commands: [command] }))).responses;
    const error = response?.error;
    return typeof error === 'string' ? error : undefined;
  };
}

/** Builds (or brings up to date) the demo's dynamic-security state. Throws on a command refused. */
export function demoSecurityState(existing: DynsecState | undefined, topics: FleetTopics, logins: DemoLogins): DynsecState {
  const state = existing ?? initialState(logins.admin.username, logins.admin.password);
  const run = runner(state);
  const must = (command: Command): void => {
    const error = run(command);
    if (error !== undefined) throw new Error(`dynamic security: ${command.command} ${String(command.rolename ?? command.username ?? '')}: ${error}`);
  };
  // create, or replace the ACLs / password and roles of what an earlier run left
  const role = (rolename: string, acls: readonly object[]): void => {
    if (run({ command: 'createRole', rolename, acls }) === 'Role already exists') must({ command: 'modifyRole', rolename, acls });
  };
  const client = (username: string, password: string, roles: readonly string[]): void => {
    const links = roles.map((rolename) => ({ rolename }));
    const created = run({ command: 'createClient', username, password, roles: links });
    if (created === 'Client already exists') must({ command: 'modifyClient', username, password, roles: links });
    else if (created !== undefined) throw new Error(`dynamic security: createClient ${username}: ${created}`);
  };

  // Whatever no role allows is refused, receiving included: a sensor gets only its own orders.
  must({
    command: 'setDefaultACLAccess',
    acls: [
      { acltype: 'publishClientSend', allow: false },
      { acltype: 'publishClientReceive', allow: false },
      { acltype: 'subscribe', allow: false },
      { acltype: 'unsubscribe', allow: true },
    ],
  });
  role(OPERATOR_ROLE, [{ acltype: 'publishClientSend', topic: `${topics.config}/#`, allow: true }]);
  client(logins.admin.username, logins.admin.password, ['admin', OPERATOR_ROLE]);
  role(RECORDER_ROLE, [
    { acltype: 'subscribePattern', topic: `${topics.data}/#`, allow: true },
    { acltype: 'publishClientReceive', topic: `${topics.data}/#`, allow: true },
  ]);
  client(logins.recorder.username, logins.recorder.password, [RECORDER_ROLE]);
  for (const [id, password] of logins.sensors) {
    role(sensorRoleName(id), sensorRoleAcls(topics, id));
    client(id, password, [sensorRoleName(id)]);
  }
  return state;
}

/** Writes the demo's dynamic-security.json (mode 0600), keeping what an earlier run left in it. */
export function writeDemoSecurity(path: string, topics: FleetTopics, logins: DemoLogins): void {
  const existing = existsSync(path) ? loadDynsecFile(path) : undefined;
  saveDynsecFile(path, demoSecurityState(existing, topics, logins));
}
