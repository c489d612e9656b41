// Exit codes and messages when the broker refuses or is absent, checked side by side with
// Mosquitto's own clients, and the -d packet trace compared line for line with mosquitto_pub's.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.js';
import { findFreePort } from '../helpers/ports.js';
import { runCulex, runTool, startCulex, startTool, subscribed, type ProcessResult } from '../helpers/processes.js';
import { needTools, requireTool } from '../helpers/tools.js';

const tools = ['mosquitto', 'mosquitto_pub', 'mosquitto_sub', 'mosquitto_passwd'];
let open: MosquittoBroker | undefined;
let locked: MosquittoBroker | undefined;

before(async () => {
  if (!tools.every(requireTool)) return;
  [open, locked] = await Promise.all([startMosquitto(), startMosquitto({ users: { alice: 'secret' } })]);
});
after(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
});

function brokers(t: TestContext): { open: string[]; locked: string[] } | undefined {
  if (!needTools(t, tools) || !open || !locked) return undefined;
  return { open: ['-h', '127.0.0.1', '-p', String(open.port)], locked: ['-h', '127.0.0.1', '-p', String(locked.port)] };
}

/** Exit code, stdout and stderr, with the program's name made neutral so the two clients compare. */
function observed(result: ProcessResult): [number | null, string, string] {
  const neutral = (text: string): string => text.replace(/mosquitto_(pub|sub|rr)/g, 'culex $1');
  return [result.code, neutral(result.stdout), neutral(result.stderr)];
}

describe('refused and failed connections', { concurrency: 4 }, () => {
  test('a wrong password makes pub exit 5 (CONNACK "not authorised") with the same messages as mosquitto_pub', async (t) => {
    const at = brokers(t);
    if (!at) return;
    const args = [...at.locked, '-u', 'x', '-P', 'wrong', '-t', 'a', '-m', 'b'];
    const [culex, mosquitto] = await Promise.all([runCulex('pub', args), runTool('mosquitto_pub', args)]);
    assert.equal(mosquitto.code, 5);
    assert.equal(culex.code, 5);
    assert.deepEqual(observed(culex), observed(mosquitto));
    assert.equal(culex.stderr, 'Connection error: Connection Refused: not authorised.\nError: The connection was refused.\n');
  });

  test('in MQTT v5 the refusal exits with the reason code, 135 "Not authorized", for pub and sub alike', async (t) => {
    const at = brokers(t);
    if (!at) return;
    const pubArgs = [...at.locked, '-V', 'mqttv5', '-u', 'x', '-P', 'wrong', '-t', 'a', '-m', 'b'];
    const subArgs = [...at.locked, '-V', '5', '-u', 'x', '-P', 'wrong', '-t', 'a'];
    const results = await Promise.all([
      runCulex('pub', pubArgs), runTool('mosquitto_pub', pubArgs), runCulex('sub', subArgs), runTool('mosquitto_sub', subArgs),
    ]);
    assert.deepEqual(results.map((r) => r.code), [135, 135, 135, 135]);
    assert.deepEqual(observed(results[0]!), observed(results[1]!));
    assert.deepEqual(observed(results[2]!), observed(results[3]!));
  });

  test('sub refused in v3.1.1 and v3.1 prints only "Connection error: …" and exits 5', async (t) => {
    const at = brokers(t);
    if (!at) return;
    for (const version of ['311', '31']) {
      const args: string[] = [...at.locked, '-V', version, '-t', 'a'];
      const [culex, mosquitto]: ProcessResult[] = await Promise.all([runCulex('sub', args), runTool('mosquitto_sub', args)]);
      assert.deepEqual(observed(culex!), observed(mosquitto!));
      assert.equal(culex!.code, 5);
    }
  });

  test('the right user and password (-u/-P, or in an -L URL) are accepted', async (t) => {
    const at = brokers(t);
    if (!at || !locked) return;
    const sub = startCulex('sub', [...at.locked, '-u', 'alice', '-P', 'secret', '-t', 'auth/#', '-C', '1', '-v', '-d']);
    await sub.waitForStdout(subscribed);
    const pub = await runCulex('pub', ['-L', `mqtt://alice:secret@127.0.0.1:${locked.port}/auth/ok`, '-m', 'in']);
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.result();
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^auth\/ok in$/m);
  });

  test('with nothing listening both clients print "Error: Connection refused" and exit 1, like mosquitto_pub', async (t) => {
    if (!needTools(t, ['mosquitto_pub', 'mosquitto_sub'])) return;
    const port = String(await findFreePort());
    const results = await Promise.all([
      runCulex('pub', ['-h', '127.0.0.1', '-p', port, '-t', 'a', '-m', 'b']),
      runTool('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'a', '-m', 'b']),
      runCulex('sub', ['-h', '127.0.0.1', '-p', port, '-t', 'a', '-d']),
      runTool('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'a', '-d']),
      runCulex('pub', ['-h', '127.0.0.1', '-p', port, '-t', 'a', '-m', 'b', '--quiet']),
    ]);
    for (const result of results.slice(0, 4)) assert.deepEqual(observed(result), [1, '', 'Error: Connection refused\n']);
    assert.deepEqual(observed(results[4]!), [1, '', '']);
  });
});

describe('-d packet trace', { concurrency: 4 }, () => {
  for (const [label, extra] of [
    ['QoS 0, v3.1.1', ['-q', '0']],
    ['QoS 1 retained, v3.1.1', ['-q', '1', '-r']],
    ['QoS 2, v5 with an id', ['-q', '2', '-V', '5', '-i', 'trace-v5']],
    ['QoS 1 repeated twice', ['-q', '1', '--repeat', '2', '-i', 'trace-repeat']],
  ] as const) {
    test(`pub -d prints the same packet lines as mosquitto_pub (${label})`, async (t) => {
      const at = brokers(t);
      if (!at) return;
      const args = [...at.open, '-d', '-t', 'trace/topic', '-m', 'payload', ...extra];
      const culex = await runCulex('pub', args);
      const mosquitto = await runTool('mosquitto_pub', args);
      assert.equal(culex.code, 0, culex.stderr);
      // v5 without -i gets a broker-assigned id, different each run.
      const sameIds = (text: string): string => text.replace(/auto-[0-9A-F-]+/g, 'auto-ID');
      assert.equal(sameIds(culex.stdout), sameIds(mosquitto.stdout));
    });
  }

  test('sub -d traces CONNECT, SUBSCRIBE with options, SUBACK and each delivery like mosquitto_sub', async (t) => {
    const at = brokers(t);
    if (!at) return;
    const args = [...at.open, '-d', '-V', '5', '-i', 'trace-sub', '-q', '1', '--retain-as-published', '-t', 'tr/#', '-C', '1'];
    const culex = startCulex('sub', args);
    await culex.waitForStdout(subscribed);
    await runTool('mosquitto_pub', [...at.open, '-t', 'tr/x', '-m', 'hello', '-q', '1']);
    const culexResult = await culex.result();
    const mosquitto = startTool('mosquitto_sub', args.map((a) => (a === 'trace-sub' ? 'trace-sub-m' : a)));
    await mosquitto.waitForStdout(subscribed);
    await runTool('mosquitto_pub', [...at.open, '-t', 'tr/x', '-m', 'hello', '-q', '1']);
    const mosquittoResult = await mosquitto.result();
    assert.equal(culexResult.code, 0);
    assert.equal(culexResult.stdout, mosquittoResult.stdout.replaceAll('trace-sub-m', 'trace-sub'));
  });
});
