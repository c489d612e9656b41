// Dynamic security without a broker: the JSON file (one made by Debian's mosquitto_ctrl, and our
// own round trip), the access rules with role and group priorities, and the control API's answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DynamicSecurity } from '../../src/auth/dynsec/dynamic-security.js';
import { subscriptionCovered } from '../../src/auth/dynsec/access.js';
import { runControlMessage } from '../../src/auth/dynsec/control.js';
import type { CommandContext } from '../../src/auth/dynsec/commands/context.js';
import { DynsecFileError, parseDynsecJson, saveDynsecFile } from '../../src/auth/dynsec/file.js';
import { initialState } from '../../src/auth/dynsec/init.js';
import type { DynsecState } from '../../src/auth/dynsec/model.js';
import type { AuthenticateRequest, ClientIdentity } from '../../src/auth/port.js';
import { needTools, toolPath } from '../helpers/tools.js';

const who = (username: string | undefined, clientId = 'c1'): ClientIdentity => ({ clientId, username, remoteAddress: '127.0.0.1:1', listener: 'mqtt:1883' });
const login = (username: string | undefined, password: string | undefined, clientId = 'c1'): AuthenticateRequest =>
  ({ ...who(username, clientId), password: password === undefined ? undefined : Buffer.from(password), connect: undefined as never }) as AuthenticateRequest;

function withDir(run: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-'));
    try {
      await run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Runs one control message against a state, recording kicks. */
function control(state: DynsecState, commands: unknown[]): { responses: unknown[]; kicked: string[] } {
  const kicked: string[] = [];
  const context: CommandContext = { state, admin: 'admin/admin', save: () => {}, kick: (u) => kicked.push(u), kickAnonymous: () => kicked.push('(anonymous)'), log: () => {} };
  const { responses } = runControlMessage(context, Buffer.from(JSON.stringify({ commands })));
  return { responses, kicked };
}

test('a file made by Debian mosquitto_ctrl dynsec init loads: the admin logs in and may use only the API', async (t) => {
  if (!needTools(t, ['mosquitto_ctrl'])) return;
  await withDir(async (dir) => {
    const file = join(dir, 'dynsec.json');
    execFileSync(toolPath('mosquitto_ctrl')!, ['dynsec', 'init', file, 'admin', 'secret-pw']);
    const dynsec = DynamicSecurity.load(file);
    assert.equal(await dynsec.authenticate(login('admin', 'secret-pw')), 'allow');
    assert.equal(await dynsec.authenticate(login('admin', 'wrong')), 'deny');
    assert.equal(await dynsec.authenticate(login('nobody', 'x')), 'defer');
    assert.equal(await dynsec.authenticate(login(undefined, undefined)), 'defer');
    const admin = who('admin');
    assert.equal(dynsec.canPublish(admin, '$CONTROL/dynamic-security/v1'), 'allow');
    assert.equal(dynsec.canPublish(admin, 'sensor_data/1'), 'defer', 'default publishClientSend is false');
    assert.equal(dynsec.canSubscribe(admin, '$CONTROL/dynamic-security/v1/response'), 'allow');
    assert.equal(dynsec.canReceive(admin, 'anything/at/all'), 'allow');
    assert.equal(dynsec.state.clients.get('admin')?.textname, 'Dynsec admin user', 'mosquitto_ctrl writes "textName"; keys are read without regard to case');
  })();
});

test('our init file is the one mosquitto_ctrl makes, and a save/load round trip keeps every decision', withDir((dir) => {
  const file = join(dir, 'dynsec.json');
  const state = initialState('admin', 'pw');
  const { responses } = control(state, [
    { command: 'createRole', rolename: 'sensor' },
    { command: 'addRoleACL', rolename: 'sensor', acltype: 'publishClientSend', topic: 'sensor_data/%u', allow: true },
    { command: 'createClient', username: 's1', password: 'pw1', textname: 'first sensor' },
    { command: 'createGroup', groupname: 'fleet', roles: [{ rolename: 'sensor', priority: 2 }] },
    { command: 'addGroupClient', groupname: 'fleet', username: 's1', priority: 5 },
    { command: 'setAnonymousGroup', groupname: 'fleet' },
  ]);
  assert.deepEqual(responses.map((r) => (r as { error?: string }).error), [undefined, undefined, undefined, undefined, undefined, undefined]);
  saveDynsecFile(file, state);
  assert.equal(existsSync(`${file}.new`), false, 'written to FILE.new, then renamed');
  const again = parseDynsecJson(readFileSync(file, 'utf8'));
  assert.equal(again.anonymousGroup, 'fleet');
  assert.deepEqual(again.clients.get('s1')?.groups, [{ groupname: 'fleet', priority: 5 }]);
  const reloaded = DynamicSecurity.load(file);
  // Mosquitto 2.0's plugin matches ACL topics as written: %u is not the username (2.1 substitutes it)
  assert.equal(reloaded.canPublish(who('s1'), 'sensor_data/%u'), 'allow');
  assert.equal(reloaded.canPublish(who('s1'), 'sensor_data/s1'), 'defer');
}));

test('roles are checked by priority, the client\'s own roles before its groups\', and the first matching ACL decides', () => {
  const state = initialState('admin', 'pw');
  control(state, [
    { command: 'createRole', rolename: 'allow-all', acls: [{ acltype: 'publishClientSend', topic: '#', allow: true }] },
    { command: 'createRole', rolename: 'deny-secret', acls: [{ acltype: 'publishClientSend', topic: 'secret/#', allow: false }] },
    { command: 'createClient', username: 'u' },
    { command: 'addClientRole', username: 'u', rolename: 'allow-all', priority: 1 },
  ]);
  const u = who('u');
  assert.equal(publishDecision(state, u, 'secret/x'), 'allow');
  control(state, [{ command: 'addClientRole', username: 'u', rolename: 'deny-secret', priority: 5 }]);
  assert.equal(publishDecision(state, u, 'secret/x'), 'deny', 'the higher-priority role answers first');
  assert.equal(publishDecision(state, u, 'public/x'), 'allow');
  // ACL priority inside one role
  control(state, [
    { command: 'createRole', rolename: 'mixed' },
    { command: 'addRoleACL', rolename: 'mixed', acltype: 'publishClientSend', topic: 'a/#', allow: true, priority: 1 },
    { command: 'addRoleACL', rolename: 'mixed', acltype: 'publishClientSend', topic: 'a/b', allow: false, priority: 9 },
    { command: 'createClient', username: 'v' },
    { command: 'createGroup', groupname: 'g' },
    { command: 'addGroupRole', groupname: 'g', rolename: 'mixed' },
    { command: 'addGroupClient', groupname: 'g', username: 'v' },
  ]);
  assert.equal(publishDecision(state, who('v'), 'a/b'), 'deny');
  assert.equal(publishDecision(state, who('v'), 'a/c'), 'allow', 'through the group');
});

function publishDecision(state: DynsecState, client: ClientIdentity, topic: string): string {
  return DynamicSecurity.forState(state, '/dev/null').canPublish(client, topic);
}

test('default access applies when no ACL matches, but never to $CONTROL topics; unknown usernames get no answer', () => {
  const state = initialState('admin', 'pw');
  control(state, [
    { command: 'setDefaultACLAccess', acls: [{ acltype: 'publishClientSend', allow: true }] },
    { command: 'createClient', username: 'plain' },
  ]);
  assert.equal(publishDecision(state, who('plain'), 'x/y'), 'allow');
  assert.equal(publishDecision(state, who('plain'), '$CONTROL/dynamic-security/v1'), 'defer');
  assert.equal(publishDecision(state, who('stranger'), 'x/y'), 'defer');
  assert.equal(publishDecision(state, who(undefined), 'x/y'), 'allow', 'no anonymous group: the default');
});

test('subscribePattern covers a requested filter as Mosquitto\'s sub_acl_check does', () => {
  const cases: [string, string, boolean][] = [
    ['foo/+/bar', 'foo/#', false],
    ['foo/+/ba℞/#', 'foo/baz/ba℞', true],
    ['foo/+/ba℞/#', 'foo/baz/ba℞/+', true],
    ['foo/+/ba℞/#', 'foo/baz/ba℞/#', true],
    ['foo/+/ba℞/#', 'foo/baz/+/#', false],
    ['/+//#', '/foo///#', true],
    ['#', '#', true],
    ['#', '+', true],
    ['/#', '+', false],
    ['/#', '/+', true],
    ['/+', '#', false],
    ['/+', '+', false],
    ['+/+', 'topic/topic', true],
    ['+/+', 'topic/topic/', false],
    ['+', '#', false],
    ['+', '+', true],
    ['a/b/c/d/e', 'a/b/c/d/e', true],
    ['a/b/ /d/e', 'a/b/c/d/e', false],
  ];
  for (const [acl, sub, expected] of cases) assert.equal(subscriptionCovered(acl, sub), expected, `${acl} : ${sub}`);
});

test('control answers: batches, errors with Mosquitto\'s strings, correlation data, and who gets disconnected', () => {
  const state = initialState('admin', 'pw');
  const { responses, kicked } = control(state, [
    { command: 'createClient', username: 'a', password: 'p', correlationData: 'one' },
    { command: 'createClient', username: 'a' },
    { command: 'getClient', username: 'nobody' },
    { command: 'createRole', rolename: 'r' },
    { command: 'createRole', rolename: 'r' },
    { command: 'addRoleACL', rolename: 'r', acltype: 'publishEverything', topic: 'x' },
    { command: 'addRoleACL', rolename: 'r', acltype: 'subscribeLiteral', topic: 'a/#/b' },
    { command: 'addClientRole', username: 'a', rolename: 'r' },
    { command: 'setClientPassword', username: 'a', password: '' },
    { command: 'disableClient', username: 'a' },
    { command: 'nonsense' },
    { command: 'getClient', username: 'a', correlationData: 7 },
    { command: 'listClients' },
  ]);
  assert.deepEqual(responses, [
    { command: 'createClient', correlationData: 'one' },
    { command: 'createClient', error: 'Client already exists' },
    { command: 'getClient', error: 'Client not found' },
    { command: 'createRole' },
    { command: 'createRole', error: 'Role already exists' },
    { command: 'addRoleACL', error: 'Unknown acltype' },
    { command: 'addRoleACL', error: 'Invalid ACL topic' },
    { command: 'addClientRole' },
    { command: 'setClientPassword', error: 'Empty password is not allowed' },
    { command: 'disableClient' },
    { command: 'nonsense', error: 'Unknown command' },
    { command: 'getClient', error: 'Invalid correlationData data type.' },
  ], 'a bad correlationData stops the batch, as in the plugin');
  assert.deepEqual(kicked, ['a', 'a'], 'addClientRole and disableClient disconnect the client');
});

test('a file that is not JSON is refused with a reason; an empty one is an empty configuration', withDir((dir) => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ not json');
  assert.throws(() => DynamicSecurity.load(bad), (error: unknown) => error instanceof DynsecFileError && /not valid JSON/.test(error.message));
  assert.throws(() => DynamicSecurity.load(join(dir, 'missing.json')), DynsecFileError);
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, '');
  assert.equal(DynamicSecurity.load(empty).state.clients.size, 0);
}));
