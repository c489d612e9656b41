// Whom a dynamic-security change concerns when only the configurations before and after it are
// known (a cluster node back from a Redis outage): for each kind of control command, the comparison
// finds the clients the command itself disconnects, and nobody for changes that disconnect nobody.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runControlMessage } from '../../src/auth/dynsec/control.js';
import type { CommandContext } from '../../src/auth/dynsec/commands/context.js';
import { concernedBy } from '../../src/auth/dynsec/concerned.js';
import { dynsecJson, parseDynsecJson } from '../../src/auth/dynsec/file.js';
import { initialState } from '../../src/auth/dynsec/init.js';
import type { DynsecState } from '../../src/auth/dynsec/model.js';

const ANONYMOUS = '(anonymous)';

/** Runs one control message against a state; returns the usernames it disconnected (ANONYMOUS for those without one). */
function control(state: DynsecState, commands: unknown[]): Set<string> {
  const kicked = new Set<string>();
  const context: CommandContext = { state, admin: 'admin/admin', save: () => {}, kick: (u) => kicked.add(u), kickAnonymous: () => kicked.add(ANONYMOUS), log: () => {} };
  const { responses } = runControlMessage(context, Buffer.from(JSON.stringify({ commands })));
  for (const response of responses as { error?: string }[]) assert.equal(response.error, undefined, JSON.stringify(response));
  return kicked;
}

const copy = (state: DynsecState): DynsecState => parseDynsecJson(JSON.stringify(dynsecJson(state)));

function base(): DynsecState {
  const state = initialState('admin', 'admin-pw');
  control(state, [
    { command: 'createRole', rolename: 'r1', acls: [{ acltype: 'publishClientSend', topic: 'a/#', allow: true }] },
    { command: 'createRole', rolename: 'r2' },
    { command: 'createGroup', groupname: 'g1' },
    { command: 'createGroup', groupname: 'g2' },
    { command: 'addGroupRole', groupname: 'g1', rolename: 'r1' },
    { command: 'createClient', username: 'u1', password: 'p1' },
    { command: 'createClient', username: 'u2', password: 'p2', roles: [{ rolename: 'r2' }] },
    { command: 'createClient', username: 'u3', password: 'p3' },
    { command: 'addGroupClient', groupname: 'g1', username: 'u1' },
    { command: 'disableClient', username: 'u3' },
    { command: 'setAnonymousGroup', groupname: 'g1' },
  ]);
  return state;
}

const cases: readonly (readonly [string, Record<string, unknown>, readonly string[]])[] = [
  ['deleteClient', { command: 'deleteClient', username: 'u2' }, ['u2']],
  ['disableClient', { command: 'disableClient', username: 'u1' }, ['u1']],
  ['enableClient', { command: 'enableClient', username: 'u3' }, []],
  ['setClientPassword', { command: 'setClientPassword', username: 'u2', password: 'new' }, ['u2']],
  ['setClientId', { command: 'setClientId', username: 'u2', clientid: 'only-this-one' }, ['u2']],
  ['addClientRole', { command: 'addClientRole', username: 'u2', rolename: 'r1' }, ['u2']],
  ['addRoleACL on a role a group and the anonymous group hold', { command: 'addRoleACL', rolename: 'r1', acltype: 'subscribePattern', topic: 'a/#', allow: true }, ['u1', ANONYMOUS]],
  ['deleteRole', { command: 'deleteRole', rolename: 'r2' }, ['u2']],
  ['removeGroupClient', { command: 'removeGroupClient', groupname: 'g1', username: 'u1' }, ['u1']],
  ['removeGroupRole', { command: 'removeGroupRole', groupname: 'g1', rolename: 'r1' }, ['u1', ANONYMOUS]],
  ['setAnonymousGroup', { command: 'setAnonymousGroup', groupname: 'g2' }, [ANONYMOUS]],
  ['createClient', { command: 'createClient', username: 'u4', password: 'p4' }, []],
  ['createRole', { command: 'createRole', rolename: 'r3' }, []],
  ['setDefaultACLAccess', { command: 'setDefaultACLAccess', acls: [{ acltype: 'publishClientSend', allow: true }] }, []],
  // the command disconnects u2 though nothing that decides its access changed
  ['modifyClient of the text name only', { command: 'modifyClient', username: 'u2', textname: 'Two' }, []],
];

for (const [name, command, expected] of cases) {
  test(`dynamic security, compared before and after ${name}: the clients it concerns are those the command disconnects`, () => {
    const before = base();
    const after = copy(before);
    const kicked = control(after, [command]);
    const concerned = concernedBy(before, after);
    const found = new Set([...concerned.kick, ...(concerned.kickAnonymous ? [ANONYMOUS] : [])]);
    assert.deepEqual([...found].sort(), [...expected].sort());
    for (const who of found) assert.ok(kicked.has(who), `${who} is disconnected by the command too`);
  });
}

test('dynamic security, compared across several changes at once: each client any of them concerns', () => {
  const before = base();
  const after = copy(before);
  control(after, [
    { command: 'disableClient', username: 'u1' },
    { command: 'setClientPassword', username: 'u2', password: 'new' },
    { command: 'enableClient', username: 'u3' },
  ]);
  assert.deepEqual(concernedBy(before, after), { kick: ['u1', 'u2'], kickAnonymous: false });
});
