// Debian's mosquitto_ctrl drives dynamic security: the same commands, run against `culex broker -c`
// and against Debian's mosquitto with its mosquitto_dynamic_security.so on the same configuration,
// must give the same mosquitto_ctrl answers and the same admissions of mosquitto_pub/mosquitto_sub
// after each command (connect refused or not, messages delivered or dropped, subscriptions granted
// or denied, a disabled client disconnected with 0x98).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findFreePort } from '../helpers/ports.js';
import { runTool, startTool, subscribed, withoutTrace, type ProcessResult } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';
import { credentials, ctrl, ctrlOutput, mosquittoCtrl, startBroker, stopBroker, writeDynsecConfig, type BrokerKind } from '../helpers/dynsec.js';

const admin = ['admin', 'admin-pw'] as const;

interface Observed {
  readonly steps: [string, string][];
  readonly watcherSaw: string[];
}

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

async function scenario(port: number): Promise<Observed> {
  const steps: [string, string][] = [];
  const note = (name: string, result: ProcessResult, detail = firstLine(result.stderr)): void => {
    steps.push([name, `${result.code ?? result.signal} ${detail}`.trim()]);
  };
  const command = async (args: string[]): Promise<void> => {
    const result = await ctrl(port, admin, args);
    steps.push([`ctrl ${args.join(' ')}`, `${result.code} ${ctrlOutput(result)}`]);
  };
  const pub = (user: string, password: string, topic: string, message: string) =>
    runTool('mosquitto_pub', [...credentials(port, user, password), '-t', topic, '-m', message, '-q', '1'], { timeoutMs: 10_000 });

  // An observer with its own role: reads everything, may write configuration changes.
  await command(['createClient', 'watcher', '-p', 'watch-pw']);
  await command(['createRole', 'watch']);
  await command(['addRoleACL', 'watch', 'subscribePattern', '#', 'allow']);
  await command(['addRoleACL', 'watch', 'publishClientSend', 'config_change/#', 'allow']);
  await command(['addClientRole', 'watcher', 'watch']);
  const watcher = startTool('mosquitto_sub', [...credentials(port, 'watcher', 'watch-pw'), '-t', 'sensor_data/#', '-v', '-d', '-q', '1'], { timeoutMs: 90_000 });
  try {
    await watcher.waitForStdout(subscribed, 10_000);

    note('unknown sensor publishes', await pub('sensor1', 'pw1', 'sensor_data/sensor1', 'before-create'));
    await command(['createClient', 'sensor1', '-p', 'pw1']);
    note('new sensor without a role publishes', await pub('sensor1', 'pw1', 'sensor_data/sensor1', 'no-role'));
    await command(['createGroup', 'sensors']);
    await command(['createRole', 'sensor']);
    await command(['addRoleACL', 'sensor', 'publishClientSend', 'sensor_data/sensor1', 'allow']);
    await command(['addGroupRole', 'sensors', 'sensor']);
    await command(['addGroupClient', 'sensors', 'sensor1']);
    note('sensor publishes its own data', await pub('sensor1', 'pw1', 'sensor_data/sensor1', 'own-data'));
    note('sensor publishes as another', await pub('sensor1', 'pw1', 'sensor_data/sensor2', 'not-mine'));
    note('wrong password', await pub('sensor1', 'nope', 'sensor_data/sensor1', 'bad-password'));

    const subscribe = (): Promise<ProcessResult> => runTool('mosquitto_sub', [...credentials(port, 'sensor1', 'pw1'), '-t', 'config_change/sensor1', '-C', '1', '-W', '5'], { timeoutMs: 15_000 });
    note('sensor subscribes before any subscribe ACL', await subscribe());
    await command(['addRoleACL', 'sensor', 'subscribeLiteral', 'config_change/sensor1', 'allow']);
    const listener = startTool('mosquitto_sub', [...credentials(port, 'sensor1', 'pw1'), '-t', 'config_change/sensor1', '-C', '1', '-v', '-d'], { timeoutMs: 20_000 });
    await listener.waitForStdout(subscribed, 10_000);
    note('configuration change to the sensor', await pub('watcher', 'watch-pw', 'config_change/sensor1', 'cfg-1'));
    const heard = await listener.result();
    note('sensor receives its configuration', heard, withoutTrace(heard.stdout).trim());

    await command(['setClientPassword', 'sensor1', 'pw2']);
    note('old password after setClientPassword', await pub('sensor1', 'pw1', 'sensor_data/sensor1', 'old-password'));
    note('new password after setClientPassword', await pub('sensor1', 'pw2', 'sensor_data/sensor1', 'new-password'));

    const connected = startTool('mosquitto_sub', ['-V', '5', ...credentials(port, 'sensor1', 'pw2'), '-t', 'config_change/sensor1', '-d'], { timeoutMs: 20_000 });
    await connected.waitForStdout(subscribed, 10_000);
    await command(['disableClient', 'sensor1']);
    await connected.waitForStdout(/Received DISCONNECT \(152\)/, 10_000);
    connected.kill('SIGTERM');
    await connected.result();
    steps.push(['connected sensor on disableClient', 'Received DISCONNECT (152)']);
    note('disabled sensor publishes', await pub('sensor1', 'pw2', 'sensor_data/sensor1', 'disabled'));
    await command(['enableClient', 'sensor1']);
    note('enabled again', await pub('sensor1', 'pw2', 'sensor_data/sensor1', 'end'));
    await watcher.waitForStdout(/^sensor_data\/sensor1 end$/m, 10_000).catch((error: unknown) => {
      throw new Error(`${String(error)}; steps so far: ${JSON.stringify(steps)}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // a late denied message would show up here
  } finally {
    watcher.kill('SIGTERM');
  }
  const done = await watcher.result();
  return { steps, watcherSaw: withoutTrace(done.stdout).split('\n').filter((line) => line !== '') };
}

async function runOn(kind: BrokerKind, dir: string): Promise<Observed> {
  const port = await findFreePort();
  const dynsecFile = join(dir, `${kind}-dynsec.json`);
  execFileSync(mosquittoCtrl(), ['dynsec', 'init', dynsecFile, ...admin]);
  const broker = await startBroker(kind, writeDynsecConfig(dir, port, dynsecFile), port);
  try {
    return await scenario(port);
  } finally {
    await stopBroker(broker);
  }
}

test('mosquitto_ctrl drives culex and Mosquitto\'s plugin alike: init, createClient/Group/Role, addRoleACL, setClientPassword, disableClient, with the same admissions', async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_ctrl', 'mosquitto_pub', 'mosquitto_sub'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-ctrl-'));
  try {
    const culex = await runOn('culex', dir);
    const mosquitto = await runOn('mosquitto', dir);
    t.diagnostic(JSON.stringify(culex));
    assert.deepEqual(culex, mosquitto);
    // and what the answers mean:
    const step = Object.fromEntries(culex.steps);
    assert.match(step['unknown sensor publishes']!, /^5 Connection error: Connection Refused: not authori[sz]ed/);
    assert.equal(step['new sensor without a role publishes'], '0', 'connects; the PUBLISH is acknowledged and dropped');
    assert.match(step['wrong password']!, /^5 /);
    assert.match(step['sensor subscribes before any subscribe ACL']!, /All subscription requests were denied/);
    assert.equal(step['sensor receives its configuration'], '0 config_change/sensor1 cfg-1');
    assert.match(step['old password after setClientPassword']!, /^5 /);
    assert.equal(step['new password after setClientPassword'], '0');
    assert.match(step['disabled sensor publishes']!, /^5 /);
    assert.deepEqual(culex.watcherSaw, ['sensor_data/sensor1 own-data', 'sensor_data/sensor1 new-password', 'sensor_data/sensor1 end']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
