// The ACL matrix on the wire: one mosquitto.conf with a password file and an ACL file using every
// rule kind (anonymous topic lines, per-user read/write/readwrite/deny and a line without an access
// word, %u and %c patterns with read/write/readwrite/deny, `#` against $SYS), run by
// `culex broker -c` and by Debian's `mosquitto -c`. For MQTT 3.1.1 and 5.0 the same
// mosquitto_pub / mosquitto_sub actions must give the same answers on both brokers: which
// publishes are acknowledged and how, which live messages each reader gets, which SUBACK codes and
// retained messages a new subscription gets, and which wills are published to whom. The same file
// plus Culex's own `acl_deny_subscribe true` (Mosquitto refuses the option) must give the same
// answers again, except for the SUBACK codes of the filters a client could never read.
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
topic plain/#

user god
topic readwrite #

pattern read own/%u/#
pattern write own/%u/out
pattern deny own/%u/secret
pattern readwrite dev/%c/#
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
  /** Per reader, the SUBACK codes for retainedFilters, as mosquitto_sub -d prints them. */
  readonly subacks: Record<string, string>;
  readonly retained: Record<string, string[]>;
  readonly wills: Record<string, string[]>;
}

/** Retained messages god leaves, and the filters each reader then subscribes to (one per rule kind, no `#`). */
const retainedTopics = ['public/r', 'data/r', 'data/private', 'own/reader/r', 'own/reader/secret', 'echo/r', 'plain/r', 'dev/ret-reader/r', 'other/r'];
const retainedFilters = ['public/#', 'data/#', 'data/private', 'own/+/r', 'own/reader/secret', 'echo/#', 'plain/#', 'dev/#', 'other/#', '$SYS/#'];

function writeConfig(dir: string, port: number, extraLines: readonly string[] = []): string {
  const passwordFile = join(dir, 'passwd');
  const passwd = toolPath('mosquitto_passwd') ?? 'mosquitto_passwd';
  for (const [index, [user, password]] of Object.entries(passwords).entries()) {
    execFileSync(passwd, [...(index === 0 ? ['-c'] : []), '-b', passwordFile, user, password]);
  }
  writeFileSync(join(dir, 'acl'), aclText);
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `password_file ${passwordFile}`, `acl_file ${join(dir, 'acl')}`, 'log_dest none', ...extraLines];
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`); // keep mosquitto's access to the temp files
  const file = join(dir, extraLines.length === 0 ? 'mosquitto.conf' : 'culex-only.conf');
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
  const publish = async (user: string | undefined, topic: string, message: string, retain = false, clientId?: string): Promise<string> => {
    const id = clientId === undefined ? [] : ['-i', clientId];
    const result = await runTool('mosquitto_pub', [...login(user), ...id, '-t', topic, '-m', message, '-q', '1', ...(retain ? ['-r'] : [])], { timeoutMs: 5000 });
    return `exit ${result.code}${result.stderr.trim() === '' ? '' : `: ${result.stderr.trim()}`}`;
  };
  // Observers have fixed client ids (obs-<reader>, watch-<reader>) so that %c patterns apply to them.
  const observe = (user: string | undefined, clientId: string, extra: string[] = []): RunningProcess =>
    startTool('mosquitto_sub', [...login(user), '-i', clientId, '-t', '#', '-v', '-d', '-q', '1', ...extra], { timeoutMs: 20_000 });
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
  const cases: [string | undefined, string, string?][] = [
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
    ['writer', 'plain/1'], // `topic plain/#`: no access word, so read and write
    ['writer', 'dev/dev-a/x', 'dev-a'], // pattern readwrite dev/%c/#
    ['writer', 'dev/dev-b/x', 'dev-a'],
    [undefined, 'dev/anon-c/x', 'anon-c'], // %c patterns apply to clients without a username too
    ['god', 'dev/obs-reader/x'],
    ['god', 'own/reader/secret'], // pattern deny own/%u/secret beats pattern read own/%u/#
    ['god', 'own/god/secret'], // god's own `#` decides before any pattern
  ];
  const live = readers.map(([name, user]) => observe(user, `obs-${name}`));
  await Promise.all(live.map((observer) => observer.waitForStdout(subscribed, 8000)));
  const publishes: Record<string, string> = {};
  for (const [user, topic, clientId] of cases) publishes[`${user ?? 'anon'}${clientId === undefined ? '' : `(${clientId})`} → ${topic}`] = await publish(user, topic, `by ${user ?? 'anon'}`, false, clientId);
  await awaitEnds(live);
  const liveSeen = await drain(live);

  // 2. retained messages, then a new subscription of each reader (client id ret-<reader>) to one filter per rule
  for (const topic of retainedTopics) await publish('god', topic, 'kept', true);
  const retained: Record<string, string[]> = {};
  const subacks: Record<string, string> = {};
  for (const [name, user] of readers) {
    const filters = retainedFilters.flatMap((filter) => ['-t', filter]);
    const result = await runTool('mosquitto_sub', [...login(user), '-i', `ret-${name}`, ...filters, '-v', '-d', '--retained-only', '-W', '2'], { timeoutMs: 8000 });
    subacks[name] = /Subscribed \(mid: \d+\): ([\d, ]+)/.exec(result.stdout)?.[1] ?? `no SUBACK: ${result.stderr}`;
    retained[name] = lines(result.stdout).sort();
  }

  // 3. wills: the writer may write will/ok but not will/denied; killed, each of its clients leaves its will
  //    and anonymous clients may leave one only where a %c pattern lets them write
  const hideRetained = ['own/#', ...retainedTopics].flatMap((topic) => ['-T', topic]);
  const watchers = readers.map(([name, user]) => observe(user, `watch-${name}`, hideRetained));
  await Promise.all(watchers.map((watcher) => watcher.waitForStdout(subscribed, 8000)));
  const wills: [string, string | undefined, string][] = [
    ['will/ok', 'writer', 'will-1'],
    ['will/denied', 'writer', 'will-2'],
    ['public/will', undefined, 'will-3'],
    ['zz/dev/will-4', undefined, 'will-4'], // not dev/%c/#: denied
    ['dev/will-5/gone', undefined, 'will-5'], // pattern readwrite dev/%c/#: allowed
  ];
  // Each subscribes to a filter it may read, so that acl_deny_subscribe does not make it leave (without its will).
  const dying = wills.map(([topic, user, clientId]) =>
    startTool('mosquitto_sub', [...login(user), '-i', clientId, '-t', user === undefined ? 'public/quiet' : 'echo/quiet', '-d', '--will-topic', topic, '--will-payload', `will on ${topic}`, '--will-qos', '1'], {
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
  const willsByReader = byReader(willsSeen);
  for (const seen of Object.values(willsByReader)) seen.sort(); // killed together, their wills come in any order
  return { publishes, live: byReader(liveSeen), subacks, retained, wills: willsByReader };
}

async function stopBroker(broker: RunningProcess): Promise<void> {
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 3000);
  await broker.result();
  clearTimeout(timer);
}

for (const version of ['mqttv311', 'mqttv5'] as const) {
  test(`ACL matrix -V ${version}: publish, live delivery, SUBACK, retained and wills answer the same on culex broker -c and mosquitto -c, and with acl_deny_subscribe only the SUBACKs differ`, { timeout: 150_000 }, async (t) => {
    if (!needTools(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_sub', 'mosquitto_passwd'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'culex-acl-matrix-'));
    try {
      const port = await findFreePort();
      const file = writeConfig(dir, port);
      const culexOnly = writeConfig(dir, port, ['acl_deny_subscribe true']);
      const answers: Answers[] = [];
      const brokers = [
        () => startCulexBroker(['-c', file], 90_000),
        () => startTool('mosquitto', ['-c', file], { timeoutMs: 90_000 }),
        () => startCulexBroker(['-c', culexOnly], 90_000),
      ];
      for (const start of brokers) {
        const broker = start();
        try {
          await waitForPort(port, broker);
          answers.push(await runMatrix(port, version));
        } finally {
          await stopBroker(broker);
        }
      }
      const [culex, mosquitto, denying] = answers as [Answers, Answers, Answers];
      t.diagnostic(`culex: ${JSON.stringify(culex)}`);
      t.diagnostic(`culex with acl_deny_subscribe: ${JSON.stringify(denying.subacks)}`);
      // Culex adds a Reason String to a v5 PUBACK 0x87 (MQTT 5.0 §3.4.2.2.2), which mosquitto_pub prints on a
      // second line; Mosquitto sends none. The rest of each answer must be the same.
      const firstLines = (answers: Answers): Answers => ({ ...answers, publishes: Object.fromEntries(Object.entries(answers.publishes).map(([k, v]) => [k, v.split('\n')[0]!])) });
      assert.deepEqual(firstLines(culex), firstLines(mosquitto));
      // acl_deny_subscribe changes the SUBACK codes and nothing else: what is delivered is the same.
      assert.deepEqual({ ...denying, subacks: {} }, { ...culex, subacks: {} });

      // and what the ACL file means, so that two brokers agreeing on nothing cannot pass
      assert.deepEqual(culex.live.reader, ['data/a by writer', 'own/reader/x by god', 'dev/obs-reader/x by god']); // not data/private (deny), not own/reader/out (writer's pattern is own/writer/out), not own/reader/secret (pattern deny)
      assert.deepEqual(culex.live.anon, ['public/y by god']);
      assert.deepEqual(culex.live.writer, ['own/writer/out by writer', 'echo/1 by writer', 'plain/1 by writer']); // pattern read own/%u/#, readwrite echo/#, `topic plain/#`
      assert.ok(!culex.live.god!.some((line) => line.startsWith('$SYS/broker/forged')), 'nobody publishes to $SYS');
      assert.ok(culex.live.god!.includes('anon/in by anon'));
      assert.ok(!culex.live.god!.includes('public/x by anon'), 'anonymous may not write public/');
      assert.ok(culex.live.god!.includes('dev/dev-a/x by writer') && culex.live.god!.includes('dev/anon-c/x by anon'), 'dev/%c/# lets a client write under its own id');
      assert.ok(!culex.live.god!.includes('dev/dev-b/x by writer'), 'and only there');
      assert.ok(culex.live.god!.includes('own/god/secret by god'), 'the own list decides before a pattern deny');
      assert.deepEqual(culex.retained.reader, ['data/r kept', 'dev/ret-reader/r kept', 'own/reader/r kept']);
      assert.deepEqual(culex.retained.anon, ['public/r kept']);
      assert.deepEqual(culex.retained.writer, ['echo/r kept', 'plain/r kept']);
      assert.deepEqual(culex.wills.god, ['dev/will-5/gone will on dev/will-5/gone', 'will/ok will on will/ok']);
      assert.deepEqual(culex.wills.reader, []);
      if (version === 'mqttv5') assert.match(culex.publishes['writer → public/x'] ?? '', /Not authori[sz]ed\.\nnot authorised to publish to this topic$/);
      else assert.equal(culex.publishes['writer → public/x'], 'exit 0');

      // SUBSCRIBE: Mosquitto grants every filter; acl_deny_subscribe refuses those the client could never read
      // (0x80 in 3.1.1, 0x87 in v5), per rule kind: retainedFilters are
      // public/#, data/#, data/private, own/+/r, own/reader/secret, echo/#, plain/#, dev/#, other/#, $SYS/#
      const all = retainedFilters.map(() => '0').join(', ');
      assert.deepEqual(culex.subacks, { anon: all, reader: all, writer: all, god: all });
      const no = version === 'mqttv5' ? '135' : '128';
      const codes = (granted: readonly number[]): string => retainedFilters.map((_, i) => (granted.includes(i) ? '0' : no)).join(', ');
      assert.deepEqual(denying.subacks, {
        anon: codes([0, 7]), // public/#, and dev/# through dev/%c/# (patterns without %u apply to anonymous clients)
        reader: codes([1, 3, 7]), // data/# (the deny covers only data/private), own/+/r, dev/#; not own/reader/secret (pattern deny)
        writer: codes([3, 5, 6, 7]), // own/+/r, echo/#, plain/# (no access word = readwrite), dev/#; data/# is write-only
        god: codes([0, 1, 2, 3, 4, 5, 6, 7, 8]), // everything but $SYS/#, which `#` does not grant
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
