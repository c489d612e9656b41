// The $CONTROL/dynamic-security/v1 API, command by command, against `culex broker -c` and against
// Debian's mosquitto with mosquitto_dynamic_security.so: every command of the API with its success
// and error paths, batches, case-insensitive names, correlation data and malformed messages must
// get the same JSON responses; the files both write must hold the same data; and each broker must
// accept the file the other wrote (a password set through one logs in on the other).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findFreePort } from '../helpers/ports.js';
import { runTool, startTool, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';
import { credentials, ctrl, ctrlOutput, mosquittoCtrl, startBroker, stopBroker, writeDynsecConfig, type BrokerKind } from '../helpers/dynsec.js';

const admin = ['admin', 'admin-pw'] as const;

const r1Acls = [
  { acltype: 'publishClientSend', topic: 'x/#', priority: 1, allow: true },
  { acltype: 'publishClientSend', topic: 'x/secret', priority: 9, allow: false },
  { acltype: 'subscribePattern', topic: 'x/+', allow: true },
  { acltype: 'publishClientReceive', topic: 'x/#', priority: 2, allow: true },
  { acltype: 'unsubscribeLiteral', topic: 'x/y', allow: false },
];

/** One string per control message, each a batch. */
const messages: string[] = [
  JSON.stringify({ commands: [
    { command: 'createRole', rolename: 'r1', textname: 'Role one', acls: r1Acls },
    { command: 'createRole', rolename: 'r1' },
    { command: 'createRole', rolename: 'r2', textdescription: 'second' },
    { command: 'createGroup', groupname: 'g1', roles: [{ rolename: 'r1', priority: 3 }] },
    { command: 'createGroup', groupname: 'g2' },
    { command: 'createGroup', groupname: 'g1' },
    { command: 'createClient', username: 'c1', password: 'pw1', clientid: 'cid1', textname: 'Client one', textdescription: 'first', roles: [{ rolename: 'r2' }], groups: [{ groupname: 'g1', priority: 2 }] },
    { command: 'createClient', username: 'c2', password: 'pw2' },
    { command: 'createClient', username: 'c3' },
    { command: 'createClient', username: 'bad', roles: [{ rolename: 'nope' }] },
    { command: 'createClient', username: 'bad2', groups: [{ groupname: 'nope' }] },
    { command: 'createClient', username: 'bad3', roles: 'r1' },
    { command: 'createClient', password: 'x' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'addClientRole', username: 'c2', rolename: 'r1', priority: 5 },
    { command: 'addClientRole', username: 'c2', rolename: 'r2' },
    { command: 'addClientRole', username: 'c2', rolename: 'r1' },
    { command: 'addClientRole', username: 'nobody', rolename: 'r1' },
    { command: 'addClientRole', username: 'c2', rolename: 'nope' },
    { command: 'removeClientRole', username: 'c2', rolename: 'r2' },
    { command: 'removeClientRole', username: 'c2', rolename: 'nope' },
    { command: 'addGroupClient', groupname: 'g2', username: 'c2', priority: 7 },
    { command: 'addGroupClient', groupname: 'g2', username: 'c2' },
    { command: 'addGroupClient', groupname: 'g2', username: 'nobody' },
    { command: 'addGroupClient', groupname: 'nope', username: 'c2' },
    { command: 'addGroupClient', groupname: 'g1', username: 'c3' },
    { command: 'removeGroupClient', groupname: 'g2', username: 'c3' },
    { command: 'removeGroupClient', groupname: 'nope', username: 'c1' },
    { command: 'addGroupRole', groupname: 'g2', rolename: 'r2', priority: 1 },
    { command: 'addGroupRole', groupname: 'g2', rolename: 'r2' },
    { command: 'addGroupRole', groupname: 'nope', rolename: 'r2' },
    { command: 'removeGroupRole', groupname: 'g2', rolename: 'r1' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'addRoleACL', rolename: 'r2', acltype: 'publishClientSend', topic: 'a/#', allow: true, priority: 4 },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'publishClientSend', topic: 'a/#', allow: true },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'subscribeLiteral', topic: 'a/+' },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'SUBSCRIBEPATTERN', topic: 'b/#', allow: true },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'publishEverything', topic: 'a' },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'publishClientSend', topic: 'a/#/b' },
    { command: 'addRoleACL', rolename: 'nope', acltype: 'publishClientSend', topic: 'a' },
    { command: 'addRoleACL', rolename: 'r2', acltype: 'publishClientSend' },
    { command: 'addRoleACL', rolename: 'r2' },
    { command: 'removeRoleACL', rolename: 'r2', acltype: 'publishClientSend', topic: 'a/#' },
    { command: 'removeRoleACL', rolename: 'r2', acltype: 'publishClientSend', topic: 'a/#' },
    { command: 'removeRoleACL', rolename: 'r2', acltype: 'unsubscribePattern', topic: 'x' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'modifyClient', username: 'c1', textname: 'renamed', roles: [{ rolename: 'r1', priority: 1 }, { rolename: 'r2' }], groups: [{ groupname: 'g2', priority: 1 }] },
    { command: 'modifyClient', username: 'nobody' },
    { command: 'modifyClient', username: 'c1', roles: [{ rolename: 'nope' }] },
    { command: 'modifyGroup', groupname: 'g1', textdescription: 'group one', clients: [{ username: 'c3', priority: 4 }, { username: 'nobody' }], roles: [{ rolename: 'r2' }] },
    { command: 'modifyGroup', groupname: 'nope' },
    { command: 'modifyRole', rolename: 'r1', textname: 'R1', acls: [{ acltype: 'publishClientSend', topic: 'y/#', allow: true }] },
    { command: 'modifyRole', rolename: 'nope' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'setClientId', username: 'c2', clientid: 'cid2' },
    { command: 'setClientId', username: 'c1' },
    { command: 'setClientId', username: 'nobody', clientid: 'x' },
    { command: 'setClientPassword', username: 'c3', password: 'pw3' },
    { command: 'setClientPassword', username: 'c3', password: '' },
    { command: 'setClientPassword', username: 'nobody', password: 'x' },
    { command: 'setClientPassword', username: 'c3' },
    { command: 'disableClient', username: 'c3' },
    { command: 'enableClient', username: 'nobody' },
    { command: 'setAnonymousGroup', groupname: 'g2' },
    { command: 'setAnonymousGroup', groupname: 'nope' },
    { command: 'getAnonymousGroup' },
    { command: 'setDefaultACLAccess', acls: [{ acltype: 'subscribe', allow: true }, { acltype: 'publishClientSend', allow: true }, { acltype: 'nonsense', allow: true }] },
    { command: 'setDefaultACLAccess' },
    { command: 'getDefaultACLAccess' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'getClient', username: 'c1' },
    { command: 'getClient', username: 'c2' },
    { command: 'getClient', username: 'c3' },
    { command: 'getGroup', groupname: 'g1' },
    { command: 'getGroup', groupname: 'g2' },
    { command: 'getGroup', groupname: 'nope' },
    { command: 'getRole', rolename: 'r1' },
    { command: 'getRole', rolename: 'r2' },
    { command: 'getRole', rolename: 'nope' },
    { command: 'listClients' },
    { command: 'listClients', verbose: true, count: 2, offset: 1 },
    { command: 'listGroups', verbose: true },
    { command: 'listRoles', verbose: true },
    { command: 'listRoles', count: 0 },
    { command: 'getclient', UserName: 'c2', correlationData: 'case' },
  ] }),
  JSON.stringify({ commands: [
    { command: 'deleteGroup', groupname: 'g1' },
    { command: 'deleteGroup', groupname: 'nope' },
    { command: 'deleteRole', rolename: 'r2' },
    { command: 'deleteRole', rolename: 'nope' },
    { command: 'deleteClient', username: 'c3' },
    { command: 'deleteClient', username: 'nobody' },
    { command: 'getClient', username: 'c1' },
    { command: 'listGroups', verbose: true },
  ] }),
  'not json',
  '{"x":1}',
  JSON.stringify({ commands: [1, { command: 5 }, { command: 'zz', correlationData: 'q' }, { command: 'getClient', username: 'c1', correlationData: 'x' }, { foo: 1 }, { command: 'getClient', username: 7 }] }),
];

interface Run {
  readonly responses: unknown[];
  readonly file: unknown;
  readonly dynsecFile: string;
}

/** The file's data with the random parts (salt, hash) replaced by their lengths. */
function normalisedFile(path: string): unknown {
  const tree = JSON.parse(readFileSync(path, 'utf8')) as { clients?: Record<string, unknown>[] };
  for (const client of tree.clients ?? []) {
    if (typeof client.password === 'string') client.password = `<${Buffer.from(client.password, 'base64').length} bytes>`;
    if (typeof client.salt === 'string') client.salt = '<salt>';
    // mosquitto_ctrl init writes "textName"; the plugin reads keys without regard to case
    if ('textName' in client) {
      client.textname = client.textName;
      delete client.textName;
    }
  }
  return tree;
}

async function runOn(kind: BrokerKind, dir: string): Promise<Run> {
  const port = await findFreePort();
  const dynsecFile = join(dir, `${kind}-dynsec.json`);
  execFileSync(mosquittoCtrl(), ['dynsec', 'init', dynsecFile, ...admin]);
  const broker = await startBroker(kind, writeDynsecConfig(dir, port, dynsecFile), port);
  try {
    const listener = startTool('mosquitto_sub', [...credentials(port, ...admin), '-t', '$CONTROL/dynamic-security/v1/response', '-C', String(messages.length), '-d'], { timeoutMs: 60_000 });
    await listener.waitForStdout(subscribed, 10_000);
    for (const message of messages) {
      const sent = await runTool('mosquitto_pub', [...credentials(port, ...admin), '-t', '$CONTROL/dynamic-security/v1', '-m', message, '-q', '1'], { timeoutMs: 10_000 });
      assert.equal(sent.code, 0, sent.stderr);
    }
    const heard = await listener.result();
    const responses = withoutTrace(heard.stdout).split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as unknown);
    return { responses, file: normalisedFile(dynsecFile), dynsecFile };
  } finally {
    await stopBroker(broker);
  }
}

/** Starts kind on a file the other broker wrote and reports what three logins and a getClient give. */
async function loginsOn(kind: BrokerKind, dir: string, dynsecFile: string): Promise<string[]> {
  const port = await findFreePort();
  const broker = await startBroker(kind, writeDynsecConfig(dir, port, dynsecFile), port);
  try {
    const pub = (user: string, password: string, clientId: string) =>
      runTool('mosquitto_pub', [...credentials(port, user, password), '-i', clientId, '-t', 'y/z', '-m', 'x', '-q', '1'], { timeoutMs: 10_000 });
    const seen: string[] = [];
    seen.push(`c2 right password, right client id: ${(await pub('c2', 'pw2', 'cid2')).code}`);
    seen.push(`c2 right password, other client id: ${(await pub('c2', 'pw2', 'other')).code}`);
    seen.push(`c1 wrong password: ${(await pub('c1', 'wrong', 'c1')).code}`);
    seen.push(`c1 right password: ${(await pub('c1', 'pw1', 'any')).code}`);
    seen.push(ctrlOutput(await ctrl(port, admin, ['getClient', 'c1'])));
    return seen;
  } finally {
    await stopBroker(broker);
  }
}

test('every dynamic-security command gets the same JSON answer from culex as from Mosquitto\'s plugin, and both files hold the same data', async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_ctrl', 'mosquitto_pub', 'mosquitto_sub'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-api-'));
  try {
    const culex = await runOn('culex', dir);
    const mosquitto = await runOn('mosquitto', dir);
    assert.equal(culex.responses.length, messages.length);
    for (let i = 0; i < messages.length; i++) assert.deepEqual(culex.responses[i], mosquitto.responses[i], `responses to message ${i + 1}`);
    assert.deepEqual(culex.file, mosquitto.file, 'the files after the same commands');

    // Each broker runs on the file the other wrote.
    const culexOnMosquittoFile = await loginsOn('culex', dir, mosquitto.dynsecFile);
    const mosquittoOnCulexFile = await loginsOn('mosquitto', dir, culex.dynsecFile);
    assert.deepEqual(culexOnMosquittoFile, mosquittoOnCulexFile);
    assert.deepEqual(culexOnMosquittoFile.slice(0, 4), [
      'c2 right password, right client id: 0',
      'c2 right password, other client id: 5',
      'c1 wrong password: 5',
      'c1 right password: 0',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
