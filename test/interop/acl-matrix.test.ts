// The ACL matrix on the wire: one mosquitto.conf with a password file and an ACL file using every
// rule kind (anonymous topic lines, per-user read/write/readwrite/deny, %u patterns, `#` against
// $SYS), run by `culex broker -c` and by Debian's `mosquitto -c`. For MQTT 3.1.1 and 5.0 the same
// mosquitto_pub / mosquitto_sub actions must give the same answers on both brokers: which
// publishes are acknowledged and how, which live messages each reader gets, which retained
// messages a new subscription gets, and which wills are published to whom.
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

const passwords: Readonly<Record<string, string>> = { reader: 'pw-r', writer: 'pw-w', god: 'pw-g' };

const aclText = `# clients without a username
topic read public/#
topic write anon/in

user reader
topic read data/#
topic deny data/private

user writer
topic write data/#
topic write will/ok
topic readwrite echo/#

user god
topic readwrite #

pattern read own/%u/#
pattern write own/%u/out
`;

type Version = 'mqttv311' | 'mqttv5';
/** A reader: its name and the credentials it logs in with (none = anonymous). */
const readers: readonly (readonly [string, string | undefined])[] = [
  ['anon', undefined],
  ['reader', 'reader'],
  ['writer', 'writer'],
  ['god', 'god'],
];
/** Each reader's own end marker: a topic only god writes and that reader may read. */
const endTopic: Readonly<Record<string, string>> = { anon: 'public/end', reader: 'data/end', writer: 'echo/end', god: 'zz/end' };

interface Answers {
  readonly publishes: Record<string, string>;
  readonly live: Record<string, string[]>;
  readonly retained: Record<string, string[]>;
  readonly wills: Record<string, string[]>;
}

function writeConfig(dir: string, port: number): string {
  const passwordFile = join(dir, 'passwd');
  const passwd = toolPath('mosquitto_passwd') ?? 'mosquitto_passwd';
  for (const [index, [user, password]] of Object.entries(passwords).entries()) {
    execFileSync(passwd, [...(index === 0 ? ['-c'] : []), '-b', passwordFile, user, password]);
  }
  writeFileSync(join(dir, 'acl'), aclText);
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `password_file ${passwordFile}`, `acl_file ${join(dir, 'acl')}`, 'log_dest none'];
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`); // keep mosquitto's access to the temp files
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const lines = (stdout: string): string[] =>
  withoutTrace(stdout)
    .split('\n')
    .filter((line) => line !== '');

async function runMatrix(port: number, version: Version): Promise<Answers> {
  const base = ['-h', '127.0.0.1', '-p', String(port), '-V', version];
  const login = (user: string | undefined): string[] => (user === undefined ? base : [...base, '-u', user, '-P', passwords[user]!]);
  const publish = async (user: string | undefined, topic: string, message: string, retain = false): Promise<string> => {
    const result = await runTool('mosquitto_pub', [...login(user), '-t', topic, '-m', message, '-q', '1', ...(retain ? ['-r'] : [])], { timeoutMs: 5000 });
    return `exit ${result.code}${result.stderr.trim() === '' ? '' : `: ${result.stderr.trim()}`}`;
  };
  const observe = (user: string | undefined, extra: string[] = []): RunningProcess =>
    startTool('mosquitto_sub', [...login(user), '-t', '#', '-v', '-d', '-q', '1', ...extra], { timeoutMs: 20_000 });
  const drain = async (observers: RunningProcess[]): Promise<string[][]> => {
    for (const observer of observers) observer.kill('SIGTERM');
    return (await Promise.all(observers.map((observer) => observer.result()))).map((result) => lines(result.stdout));
  };
  const awaitEnds = async (observers: RunningProcess[]): Promise<void> => {
    for (const [name] of readers) await publish('god', endTopic[name]!, 'end');
    await Promise.all(readers.map(([name], i) => observers[i]!.waitForStdout(new RegExp(`^${endTopic[name]!} end$`, 'm'), 8000)));
    await new Promise((resolve) => setTimeout(resolve, 150)); // a late message that should not come would show here
  };

  // 1. publishes and live delivery
  const cases: [string | undefined, string][] = [
    ['writer', 'data/a'],
    ['writer', 'data/private'],
    ['writer', 'public/x'],
    [undefined, 'anon/in'],
    [undefined, 'public/x'],
    ['reader', 'data/a'],
    ['writer', 'own/writer/out'],
    ['writer', 'own/reader/out'],
    ['god', 'public/y'],
    ['god', 'own/reader/x'],
    ['god', '$SYS/broker/forged'],
    ['writer', 'echo/1'],
  ];
  const live = readers.map(([, user]) => observe(user));
  await Promise.all(live.map((observer) => observer.waitForStdout(subscribed, 8000)));
  const publishes: Record<string, string> = {};
  for (const [user, topic] of cases) publishes[`${user ?? 'anon'} → ${topic}`] = await publish(user, topic, `by ${user ?? 'anon'}`);
  await awaitEnds(live);
  const liveSeen = await drain(live);

  // 2. retained messages, then a new subscription of each reader
  for (const topic of ['public/r', 'data/r', 'data/private', 'own/reader/r', 'echo/r', 'other/r']) await publish('god', topic, 'kept', true);
  const retained: Record<string, string[]> = {};
  for (const [name, user] of readers) {
    const result = await runTool('mosquitto_sub', [...login(user), '-t', '#', '-v', '--retained-only', '-W', '2'], { timeoutMs: 8000 });
    retained[name] = lines(result.stdout).sort();
  }

  // 3. wills: the writer may write will/ok but not will/denied; killed, each of its clients leaves its will
  const watchers = readers.map(([, user]) => observe(user, ['-T', 'own/#', '-T', 'public/r', '-T', 'data/r', '-T', 'data/private', '-T', 'echo/r', '-T', 'other/r']));
  await Promise.all(watchers.map((watcher) => watcher.waitForStdout(subscribed, 8000)));
  const dying = ['will/ok', 'will/denied', 'public/will'].map((topic) =>
    startTool('mosquitto_sub', [...login(topic === 'public/will' ? undefined : 'writer'), '-t', 'nothing/here', '-d', '--will-topic', topic, '--will-payload', `will on ${topic}`, '--will-qos', '1'], {
      timeoutMs: 20_000,
    }),
  );
  await Promise.all(dying.map((client) => client.waitForStdout(subscribed, 8000)));
  for (const client of dying) client.kill('SIGKILL');
  await Promise.all(dying.map((client) => client.result()));
  await new Promise((resolve) => setTimeout(resolve, 300)); // wills go out when the broker sees the sockets close
  await awaitEnds(watchers);
  const willsSeen = await drain(watchers);

  const byReader = (seen: string[][]): Record<string, string[]> => Object.fromEntries(readers.map(([name], i) => [name, seen[i]!.filter((line) => !line.endsWith(' end'))]));
  return { publishes, live: byReader(liveSeen), retained, wills: byReader(willsSeen) };
}

async function stopBroker(broker: RunningProcess): Promise<void> {
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 3000);
  await broker.result();
  clearTimeout(timer);
}

for (const version of ['mqttv311', 'mqttv5'] as const) {
  test(`ACL matrix -V ${version}: publish, live delivery, retained and wills answer the same on culex broker -c and mosquitto -c`, { timeout: 120_000 }, async (t) => {
    if (!needTools(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_sub', 'mosquitto_passwd'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'culex-acl-matrix-'));
    try {
      const port = await findFreePort();
      const file = writeConfig(dir, port);
      const answers: Answers[] = [];
      for (const start of [() => startCulexBroker(['-c', file], 90_000), () => startTool('mosquitto', ['-c', file], { timeoutMs: 90_000 })]) {
        const broker = start();
        try {
          await waitForPort(port, broker);
          answers.push(await runMatrix(port, version));
        } finally {
          await stopBroker(broker);
        }
      }
      const [culex, mosquitto] = answers as [Answers, Answers];
      t.diagnostic(`culex: ${JSON.stringify(culex)}`);
      // Culex adds a Reason String to a v5 PUBACK 0x87 (MQTT 5.0 §3.4.2.2.2), which mosquitto_pub prints on a
      // second line; Mosquitto sends none. The rest of each answer must be the same.
      const firstLines = (answers: Answers): Answers => ({ ...answers, publishes: Object.fromEntries(Object.entries(answers.publishes).map(([k, v]) => [k, v.split('\n')[0]!])) });
      assert.deepEqual(firstLines(culex), firstLines(mosquitto));

      // and what the ACL file means, so that two brokers agreeing on nothing cannot pass
      assert.deepEqual(culex.live.reader, ['data/a by writer', 'own/reader/x by god']); // not data/private (deny), not own/reader/out (writer's pattern is own/writer/out)
      assert.deepEqual(culex.live.anon, ['public/y by god']);
      assert.deepEqual(culex.live.writer, ['own/writer/out by writer', 'echo/1 by writer']); // pattern read own/%u/#
      assert.ok(!culex.live.god!.some((line) => line.startsWith('$SYS/broker/forged')), 'nobody publishes to $SYS');
      assert.ok(culex.live.god!.includes('anon/in by anon'));
      assert.ok(!culex.live.god!.includes('public/x by anon'), 'anonymous may not write public/');
      assert.deepEqual(culex.retained.reader, ['data/r kept', 'own/reader/r kept']);
      assert.deepEqual(culex.retained.anon, ['public/r kept']);
      assert.deepEqual(culex.wills.god!.sort(), ['will/ok will on will/ok']);
      assert.deepEqual(culex.wills.reader, []);
      if (version === 'mqttv5') assert.match(culex.publishes['writer → public/x'] ?? '', /Not authori[sz]ed\.\nnot authorised to publish to this topic$/);
      else assert.equal(culex.publishes['writer → public/x'], 'exit 0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
