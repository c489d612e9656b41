// One Mosquitto configuration — a TLS listener (certificates made by openssl), allow_anonymous false,
// a password file made by Debian's mosquitto_passwd and an ACL file for the sensor fleet — run
// unchanged by `culex broker -c FILE`
// and by Debian's `mosquitto -c FILE`; the same mosquitto_pub / mosquitto_sub actions must give the
// same answers on both (exit codes, and which messages a subscriber sees).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startCulexBroker, waitForPort } from '../helpers/broker-process.js';
import { findFreePort } from '../helpers/ports.js';
import { runTool, startTool, subscribed, withoutTrace, type RunningProcess } from '../helpers/processes.js';
import { needTools, toolPath } from '../helpers/tools.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';

const passwords: Readonly<Record<string, string>> = { sensor1: 'pw-s1', sensor2: 'pw-s2', recorder: 'pw-rec', admin: 'pw-adm' };

const aclText = `# the sensor fleet
user recorder
topic read sensor_data/#

user admin
topic write config_change/#

# every sensor writes its own readings and reads its own configuration
pattern write sensor_data/%u
pattern read config_change/%u
`;

/** What a run of the matrix observed; must be identical for both brokers. */
interface Answers {
  readonly exits: Record<string, number | null>;
  readonly errors: Record<string, string>;
  /** Messages seen by the recorder (sensor_data/#) and by sensor2 (config_change/sensor2), "topic payload". */
  readonly recorderSaw: string[];
  readonly sensor2Saw: string[];
}

function writeFleetConfig(dir: string, port: number, certs: TestCertificates): string {
  const passwordFile = join(dir, 'passwd');
  const passwd = toolPath('mosquitto_passwd') ?? 'mosquitto_passwd';
  for (const [index, [user, password]] of Object.entries(passwords).entries()) {
    execFileSync(passwd, [...(index === 0 ? ['-c'] : []), '-b', passwordFile, user, password]);
  }
  writeFileSync(join(dir, 'acl'), aclText);
  const lines = [`listener ${port} 127.0.0.1`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, 'allow_anonymous false', `password_file ${passwordFile}`, `acl_file ${join(dir, 'acl')}`, 'log_dest none'];
  // Run as root, mosquitto would drop to user "mosquitto" and lose access to the temp files; Culex accepts the line with a notice.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const seen = (stdout: string): string[] => withoutTrace(stdout).split('\n').filter((line) => line !== '');

async function waitForLine(process: RunningProcess, line: string): Promise<void> {
  await process.waitForStdout(new RegExp(`^${line.replace(/[/]/g, '\\/')}$`, 'm'), 5000);
}

/** The same actions against whichever broker listens on port. */
async function runMatrix(port: number, cafile: string): Promise<Answers> {
  const base = ['-h', '127.0.0.1', '-p', String(port), '--cafile', cafile];
  const as = (user: string, password = passwords[user]!): string[] => [...base, '-u', user, '-P', password];
  const pub = (credentials: string[], topic: string, message: string) => runTool('mosquitto_pub', [...credentials, '-t', topic, '-m', message, '-q', '1'], { timeoutMs: 5000 });

  const exits: Record<string, number | null> = {};
  const errors: Record<string, string> = {};
  const note = (name: string, result: { code: number | null; stderr: string }): void => {
    exits[name] = result.code;
    if (result.stderr !== '') errors[name] = result.stderr.trim();
  };
  note('right password', await pub(as('sensor1'), 'sensor_data/sensor1', 'hello'));
  note('wrong password', await pub(as('sensor1', 'wrong'), 'sensor_data/sensor1', 'x'));
  note('unknown user', await pub(as('nobody', 'x'), 'sensor_data/nobody', 'x'));
  note('no username', await pub(base, 'sensor_data/sensor1', 'x'));
  note('sub wrong password', await runTool('mosquitto_sub', [...as('recorder', 'wrong'), '-t', 'sensor_data/#', '-C', '1'], { timeoutMs: 5000 }));

  const recorder = startTool('mosquitto_sub', [...as('recorder'), '-t', 'sensor_data/#', '-v', '-d', '-q', '1'], { timeoutMs: 15_000 });
  const sensor2 = startTool('mosquitto_sub', [...as('sensor2'), '-t', 'config_change/sensor2', '-v', '-d', '-q', '1'], { timeoutMs: 15_000 });
  try {
    await Promise.all([recorder.waitForStdout(subscribed, 5000), sensor2.waitForStdout(subscribed, 5000)]);
    note('sensor1 own data', await pub(as('sensor1'), 'sensor_data/sensor1', 's1-own'));
    note('sensor1 as sensor2', await pub(as('sensor1'), 'sensor_data/sensor2', 's1-as-s2'));
    note('sensor2 own data', await pub(as('sensor2'), 'sensor_data/sensor2', 's2-own'));
    note('sensor1 config_change', await pub(as('sensor1'), 'config_change/sensor2', 's1-config'));
    note('recorder writes data', await pub(as('recorder'), 'sensor_data/sensor1', 'rec-write'));
    note('admin config_change', await pub(as('admin'), 'config_change/sensor2', 'admin-config'));
    // Delivery is in order per publisher, not across publishers: the last allowed message from
    // each publisher above marks the point after which nothing denied can still arrive.
    note('end marker data', await pub(as('sensor1'), 'sensor_data/sensor1', 'end'));
    note('end marker config', await pub(as('admin'), 'config_change/sensor2', 'end'));
    await Promise.all([waitForLine(recorder, 'sensor_data/sensor1 end'), waitForLine(sensor2, 'config_change/sensor2 end')]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a late denied message would show up here
  } finally {
    recorder.kill('SIGTERM');
    sensor2.kill('SIGTERM');
  }
  const [recorderDone, sensor2Done] = await Promise.all([recorder.result(), sensor2.result()]);
  return { exits, errors, recorderSaw: seen(recorderDone.stdout), sensor2Saw: seen(sensor2Done.stdout) };
}

async function stopBroker(broker: RunningProcess): Promise<void> {
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 3000);
  await broker.result();
  clearTimeout(timer);
}

test('the same TLS listener + password_file + acl_file configuration gives the same answers on culex broker -c and mosquitto -c', async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_sub', 'mosquitto_passwd'])) return;
  if (!needTools(t, ['openssl'], 'openssl')) return;
  const certs = makeCertificates();
  const dir = mkdtempSync(join(tmpdir(), 'culex-fleet-conf-'));
  try {
    const port = await findFreePort();
    const file = writeFleetConfig(dir, port, certs);

    const culex = startCulexBroker(['-c', file], 20_000);
    let culexAnswers: Answers;
    try {
      await waitForPort(port, culex);
      culexAnswers = await runMatrix(port, certs.caCert);
    } finally {
      await stopBroker(culex);
    }

    const mosquitto = startTool('mosquitto', ['-c', file], { timeoutMs: 20_000 });
    let mosquittoAnswers: Answers;
    try {
      await waitForPort(port, mosquitto);
      mosquittoAnswers = await runMatrix(port, certs.caCert);
    } finally {
      await stopBroker(mosquitto);
    }

    t.diagnostic(`culex: ${JSON.stringify(culexAnswers)}`);
    assert.deepEqual(culexAnswers, mosquittoAnswers);
    // And the answers are the ones the ACL file means:
    assert.deepEqual(culexAnswers.exits, {
      'right password': 0,
      'wrong password': 5,
      'unknown user': 5,
      'no username': 5,
      'sub wrong password': 5,
      'sensor1 own data': 0,
      'sensor1 as sensor2': 0, // a denied PUBLISH is acknowledged and dropped, not an error
      'sensor2 own data': 0,
      'sensor1 config_change': 0,
      'recorder writes data': 0,
      'admin config_change': 0,
      'end marker data': 0,
      'end marker config': 0,
    });
    assert.match(culexAnswers.errors['wrong password'] ?? '', /Connection Refused: not authori[sz]ed/);
    assert.deepEqual(culexAnswers.recorderSaw, ['sensor_data/sensor1 s1-own', 'sensor_data/sensor2 s2-own', 'sensor_data/sensor1 end']);
    assert.deepEqual(culexAnswers.sensor2Saw, ['config_change/sensor2 admin-config', 'config_change/sensor2 end']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
