// A `culex ctrl` session against either broker: init a file, start the broker on it, run a fixed
// list of dynsec commands, and report exit codes and output (tests expect the same on both).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findFreePort } from './ports.js';
import { runCulexCommand, runTool } from './processes.js';
import { credentials, ctrl, ctrlOutput, startBroker, stopBroker, writeDynsecConfig, type BrokerKind } from './dynsec.js';

const admin = ['admin', 'admin-pw'] as const;

export function culexCtrl(args: readonly string[]) {
  return runCulexCommand('ctrl', args, { timeoutMs: 60_000 });
}

export async function ctrlSession(kind: BrokerKind, parent: string): Promise<string[]> {
  const dir = join(parent, kind);
  mkdirSync(dir);
  const file = join(dir, 'dynsec.json');
  const made = await culexCtrl(['dynsec', 'init', file, ...admin]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /^The client 'admin' has been created in the file '.*dynsec\.json'\./);
  const again = await culexCtrl(['dynsec', 'init', file, ...admin]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);

  const port = await findFreePort();
  const broker = await startBroker(kind, writeDynsecConfig(dir, port, file), port);
  try {
    const seen: string[] = [];
    const run = async (args: string[]): Promise<void> => {
      const result = await culexCtrl(['-h', '127.0.0.1', '-p', String(port), '-u', admin[0], '-P', admin[1], 'dynsec', ...args]);
      seen.push([`${args[0]}: ${result.code}`, result.stdout.replace(/\s+/g, ' ').trim(), result.stderr.trim()].filter((part) => part !== '').join(' '));
    };
    await run(['createClient', 'sensor42', '-p', 'pw42']);
    await run(['createClient', 'sensor42']);
    await run(['createRole', 'sensor42']);
    await run(['addRoleACL', 'sensor42', 'publishClientSend', 'sensor_data/sensor42', 'allow', '5']);
    await run(['addRoleACL', 'sensor42', 'subscribeLiteral', 'config_change/sensor42', 'allow']);
    await run(['addClientRole', 'sensor42', 'sensor42']);
    await run(['getClient', 'sensor42']);
    await run(['getRole', 'sensor42']);
    await run(['listClients']);
    await run(['getDefaultACLAccess']);
    await run(['deleteRole', 'nope']);
    // the admin made by culex ctrl is accepted by the broker's own tool too, and the sensor can log in
    seen.push(ctrlOutput(await ctrl(port, admin, ['listRoles'])));
    const pub = await runTool('mosquitto_pub', [...credentials(port, 'sensor42', 'pw42'), '-t', 'sensor_data/sensor42', '-m', '21.5', '-q', '1'], { timeoutMs: 10_000 });
    seen.push(`sensor publishes: ${pub.code}`);
    return seen;
  } finally {
    await stopBroker(broker);
  }
}

export const expectedSession = [
  'createClient: 0',
  'createClient: 1 createClient: Error: Client already exists',
  'createRole: 0',
  'addRoleACL: 0',
  'addRoleACL: 0',
  'addClientRole: 0',
  'getClient: 0 { "client": { "username": "sensor42", "roles": [ { "rolename": "sensor42" } ], "groups": [] } }',
  'getRole: 0 { "role": { "rolename": "sensor42", "acls": [ { "acltype": "publishClientSend", "topic": "sensor_data/sensor42", "priority": 5, "allow": true }, { "acltype": "subscribeLiteral", "topic": "config_change/sensor42", "priority": 0, "allow": true } ] } }',
  'listClients: 0 { "totalCount": 2, "clients": [ "admin", "sensor42" ] }',
  'getDefaultACLAccess: 0 { "acls": [ { "acltype": "publishClientSend", "allow": false }, { "acltype": "publishClientReceive", "allow": true }, { "acltype": "subscribe", "allow": false }, { "acltype": "unsubscribe", "allow": true } ] }',
  'deleteRole: 1 deleteRole: Error: Role not found',
  'admin\nsensor42',
  'sensor publishes: 0',
];

