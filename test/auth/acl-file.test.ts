// AclFile against Mosquitto 2.0's acl_file grammar and evaluation (brokers.md §2b), and the same
// file's write decisions compared with Debian's Mosquitto.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AclFile, parseAclFile } from '../../src/auth/acl-file.js';
import type { ClientIdentity } from '../../src/auth/port.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { runTool, startTool, subscribed, withoutTrace } from '../helpers/processes.js';
import { needTools } from '../helpers/tools.js';

let scratch = '';
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'culex-acl-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

function acl(text: string, options: { denySubscribe?: boolean } = {}): AclFile {
  return new AclFile(parseAclFile(text, 'test.acl'), 'test.acl', options);
}

function who(clientId: string, username?: string): ClientIdentity {
  return { clientId, username, remoteAddress: '127.0.0.1:1', listener: 'mqtt:1883' };
}

const write = (a: AclFile, c: ClientIdentity, topic: string): boolean => a.canPublish(c, topic, 0, false) as boolean;
const read = (a: AclFile, c: ClientIdentity, topic: string): boolean => a.canReceive(c, topic);

/** The sensor fleet of docs/SECURITY.md. */
const fleet = `# sensor fleet
user recorder
topic read sensor_data/#

user admin
topic write config_change/#

pattern write sensor_data/%u
pattern read config_change/%u
`;

describe('ACL file rules', () => {
  test('topic lines before any user line apply only to clients without a username', () => {
    const a = acl('topic read public/#\ntopic write inbox\nuser roger\ntopic foo/bar\n');
    assert.equal(read(a, who('anon'), 'public/x'), true);
    assert.equal(write(a, who('anon'), 'public/x'), false);
    assert.equal(write(a, who('anon'), 'inbox'), true);
    assert.equal(read(a, who('anon'), 'inbox'), false);
    assert.equal(read(a, who('c', 'roger'), 'public/x'), false);
  });

  test('topic lines after "user NAME" belong to that user only; a user without a block gets nothing', () => {
    const a = acl('user roger\ntopic foo/bar\ntopic read ro/+\ntopic write wo\n');
    const roger = who('c', 'roger');
    assert.equal(read(a, roger, 'foo/bar'), true);
    assert.equal(write(a, roger, 'foo/bar'), true);
    assert.equal(read(a, roger, 'ro/1'), true);
    assert.equal(write(a, roger, 'ro/1'), false);
    assert.equal(write(a, roger, 'wo'), true);
    assert.equal(read(a, roger, 'wo'), false);
    assert.equal(read(a, who('c', 'other'), 'foo/bar'), false);
    assert.equal(read(a, who('c'), 'foo/bar'), false);
  });

  test('"user" takes the rest of the line, so usernames may contain spaces', () => {
    const a = acl('user John Smith  \ntopic x\n');
    assert.equal(read(a, who('c', 'John Smith'), 'x'), true);
  });

  test('a filter with spaces is the rest of the line after the access word', () => {
    const a = acl('topic readwrite room 1/temp\n');
    assert.equal(write(a, who('c'), 'room 1/temp'), true);
  });

  test('patterns apply to every client with %c replaced by the client id and %u by the username', () => {
    const a = acl(fleet);
    const sensor = who('s-17', 'sensor-17');
    assert.equal(write(a, sensor, 'sensor_data/sensor-17'), true);
    assert.equal(write(a, sensor, 'sensor_data/sensor-18'), false);
    assert.equal(read(a, sensor, 'sensor_data/sensor-17'), false);
    assert.equal(read(a, sensor, 'config_change/sensor-17'), true);
    assert.equal(read(a, sensor, 'config_change/sensor-18'), false);
    assert.equal(read(a, who('r', 'recorder'), 'sensor_data/sensor-5'), true);
    assert.equal(write(a, who('r', 'recorder'), 'sensor_data/sensor-5'), false);
    assert.equal(write(a, who('a', 'admin'), 'config_change/sensor-5'), true);
    const byId = acl('pattern write devices/%c/state\n');
    assert.equal(write(byId, who('dev9'), 'devices/dev9/state'), true);
    assert.equal(write(byId, who('dev9'), 'devices/dev8/state'), false);
  });

  test('a pattern with %u does not apply to a client without a username', () => {
    const a = acl('pattern write users/%u\n');
    assert.equal(write(a, who('c'), 'users/'), false);
    assert.equal(write(a, who('c', 'u'), 'users/u'), true);
  });

  test('an explicit deny wins over a grant in the same list, whatever their order', () => {
    const a = acl('user u\ntopic readwrite home/#\ntopic deny home/secret\n');
    assert.equal(write(a, who('c', 'u'), 'home/lamp'), true);
    assert.equal(write(a, who('c', 'u'), 'home/secret'), false);
    assert.equal(read(a, who('c', 'u'), 'home/secret'), false);
  });

  test('the own list decides before patterns: a deny there is final, a miss falls through to patterns', () => {
    const a = acl('user u\ntopic deny x/u\npattern readwrite x/%u\npattern write y/%u\n');
    assert.equal(write(a, who('c', 'u'), 'x/u'), false);
    assert.equal(write(a, who('c', 'u'), 'y/u'), true);
  });

  test('"topic #" does not grant $SYS topics; a "$SYS/#" line does', () => {
    const a = acl('topic #\nuser u\ntopic #\ntopic read $SYS/broker/#\n');
    assert.equal(read(a, who('c'), '$SYS/broker/uptime'), false);
    assert.equal(read(a, who('c'), 'a/b'), true);
    assert.equal(read(a, who('c', 'u'), '$SYS/broker/uptime'), true);
    assert.equal(read(a, who('c', 'u'), '$SYS/other'), false);
    assert.equal(read(a, who('c', 'u'), '$other/x'), false);
  });

  test('a client id or username containing + or # gets nothing from patterns (CVE-2017-7650)', () => {
    const a = acl('user u+x\ntopic own\npattern readwrite p/%c\npattern readwrite q/%u\n');
    assert.equal(write(a, who('a+b'), 'p/a+b'), false);
    assert.equal(write(a, who('a#'), 'p/a#'), false);
    assert.equal(write(a, who('c', 'u+x'), 'q/u+x'), false);
    assert.equal(write(a, who('c', 'u+x'), 'own'), true, 'the own list still applies');
    assert.equal(write(a, who('plain'), 'p/plain'), true);
  });

  test('a client id with "/" widens only its own pattern levels, as Mosquitto substitutes text', () => {
    const a = acl('pattern write d/%c\n');
    assert.equal(write(a, who('x/y'), 'd/x/y'), true);
  });

  test('no matching entry, or no ACL at all for the client, means denied', () => {
    const a = acl('user u\ntopic a\n');
    assert.equal(write(a, who('c', 'u'), 'b'), false);
    assert.equal(write(a, who('c'), 'a'), false);
  });

  test('only a "#" in the first column is a comment; blank lines and trailing spaces are ignored', () => {
    const a = acl('# comment\n\ntopic a   \n   topic b\n');
    assert.equal(write(a, who('c'), 'a'), true);
    assert.equal(write(a, who('c'), 'b'), true);
    assert.throws(() => parseAclFile('topic a\n  # indented comment\n', 'f.acl'), /Invalid line in acl_file "f\.acl" line 2:   # indented comment/);
  });

  test('invalid lines throw with the file, line and reason', () => {
    assert.throws(() => parseAclFile('topic a\nsubscribe b\n', 'f.acl'), /acl_file "f\.acl" line 2: subscribe b\. \(expected "topic", "pattern" or "user"/);
    assert.throws(() => parseAclFile('topic rw a\n', 'f.acl'), /line 1: .*invalid access type "rw"/);
    assert.throws(() => parseAclFile('topic Read a\n', 'f.acl'), /invalid access type "Read"/);
    assert.throws(() => parseAclFile('user\n', 'f.acl'), /line 1: user\. \(missing username\)/);
    assert.throws(() => parseAclFile('topic\n', 'f.acl'), /empty topic/);
    assert.throws(() => parseAclFile('topic read a/#/b\n', 'f.acl'), /invalid ACL topic "a\/#\/b"/);
    assert.throws(() => parseAclFile('pattern write a+/%c\n', 'f.acl'), /invalid ACL topic/);
  });

  test('load reads the file and reports where a bad line is', async () => {
    const good = join(scratch, 'good.acl');
    writeFileSync(good, fleet);
    const a = await AclFile.load(good);
    assert.equal(write(a, who('s', 'sensor-1'), 'sensor_data/sensor-1'), true);
    const bad = join(scratch, 'bad.acl');
    writeFileSync(bad, 'topic a\n\ntopic nope a b\n');
    await assert.rejects(AclFile.load(bad), (error: Error) => error.message.includes(`"${bad}" line 3: topic nope a b`));
    await assert.rejects(AclFile.load(join(scratch, 'absent.acl')), /Unable to open acl_file/);
  });

  test('reload applies the new rules and forgets cached delivery decisions', async () => {
    const path = join(scratch, 'reload.acl');
    writeFileSync(path, 'topic read a\n');
    const a = await AclFile.load(path);
    const c = who('c');
    assert.equal(read(a, c, 'a'), true);
    writeFileSync(path, 'topic read b\n');
    await a.reload();
    assert.equal(read(a, c, 'a'), false);
    assert.equal(read(a, c, 'b'), true);
  });

  test('SUBSCRIBE is granted at the requested QoS by default, as Mosquitto 2.0 does', () => {
    const a = acl('topic read a\n');
    assert.equal(a.canSubscribe(who('c'), 'nothing/#', 2), 2);
  });

  test('with denySubscribe a filter the client could never read is refused with 0x87', () => {
    const a = acl(`${fleet}user u\ntopic read home/#\ntopic deny home/secret/#\n`, { denySubscribe: true });
    const sensor = who('s', 'sensor-1');
    assert.equal(a.canSubscribe(sensor, 'config_change/sensor-1', 1), 1);
    assert.equal(a.canSubscribe(sensor, 'config_change/+', 1), 1, 'overlaps the readable topic');
    assert.equal(a.canSubscribe(sensor, 'config_change/sensor-2', 1), 0x87);
    assert.equal(a.canSubscribe(sensor, 'sensor_data/#', 0), 0x87, 'write-only is not readable');
    assert.equal(a.canSubscribe(who('r', 'recorder'), '#', 1), 1);
    assert.equal(a.canSubscribe(who('r', 'recorder'), '$SYS/#', 1), 0x87);
    assert.equal(a.canSubscribe(who('c', 'u'), 'home/secret/+', 1), 0x87, 'covered by a deny');
    assert.equal(a.canSubscribe(who('c', 'u'), 'home/+', 1), 1);
    assert.equal(a.canSubscribe(who('c', 'u'), '$share/g/home/lamp', 1), 1);
  });

  test('canReceive caches per client and stays correct across clients', () => {
    const a = acl('pattern read in/%c\n');
    for (let i = 0; i < 3000; i++) assert.equal(read(a, who('x'), `in/${i % 7 === 0 ? 'x' : i}`), i % 7 === 0);
    assert.equal(read(a, who('y'), 'in/x'), false);
  });
});

describe('ACL file decisions match Debian Mosquitto', () => {
  test('the same ACL file allows and denies the same publishes', async (t) => {
    if (!needTools(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_sub'])) return;
    const text = `topic write anon/#\n${fleet}user observer\ntopic read #\nuser u\ntopic readwrite home/#\ntopic deny home/secret\npattern write dev/%c/state\n`;
    const path = join(scratch, 'matrix.acl');
    writeFileSync(path, text);
    const cases: [string, string | undefined, string][] = [
      ['a1', undefined, 'anon/x'],
      ['a2', undefined, 'sensor_data/a2'],
      ['s1', 'sensor-1', 'sensor_data/sensor-1'],
      ['s2', 'sensor-1', 'sensor_data/sensor-2'],
      ['s3', 'sensor-1', 'config_change/sensor-1'],
      ['r1', 'recorder', 'sensor_data/sensor-1'],
      ['ad', 'admin', 'config_change/sensor-1'],
      ['u1', 'u', 'home/lamp'],
      ['u2', 'u', 'home/secret'],
      ['d1', undefined, 'dev/d1/state'],
      ['d2', 'u', 'dev/d9/state'],
      ['+', undefined, 'dev/zz/state'],
      ['nouser', 'nobody', 'anon/x'],
    ];
    const local = await AclFile.load(path);
    const expected = cases.filter(([id, user, topic]) => write(local, who(id, user), topic)).map(([id]) => id);

    const broker = await startMosquitto({ listenerLines: [`acl_file ${path}`] });
    try {
      const at = ['-h', '127.0.0.1', '-p', String(broker.port)];
      const observer = startTool('mosquitto_sub', [...at, '-u', 'observer', '-t', '#', '-F', '%p', '-d', '-W', '10'], { timeoutMs: 15_000 });
      await observer.waitForStdout(subscribed);
      for (const [id, user, topic] of cases) {
        const result = await runTool('mosquitto_pub', [...at, '-i', id, ...(user ? ['-u', user] : []), '-t', topic, '-m', `case ${id}`, '-q', '1']);
        assert.equal(result.code, 0, result.stderr);
      }
      await runTool('mosquitto_pub', [...at, '-u', 'u', '-t', 'home/end', '-m', 'case end', '-q', '1']);
      await observer.waitForStdout(/case end/);
      observer.kill('SIGTERM');
      const seen = [...observer.stdout.matchAll(/^case (\S+)$/gm)].map((m) => m[1]).filter((id) => id !== 'end');
      assert.deepEqual(seen, expected);
    } finally {
      await broker.stop();
    }
  });

  test('the same ACL file delivers the same messages to each reader', async (t) => {
    if (!needTools(t, ['mosquitto', 'mosquitto_pub', 'mosquitto_sub'])) return;
    const text = `topic read anon/#\n${fleet}user god\ntopic write #\nuser u\ntopic read home/#\ntopic deny home/secret\npattern read end/%c\npattern read dev/%c/cmd\n`;
    const path = join(scratch, 'read-matrix.acl');
    writeFileSync(path, text);
    const readers: [string, string | undefined][] = [['anon1', undefined], ['s1', 'sensor-1'], ['rec', 'recorder'], ['uu', 'u'], ['x+', 'u']];
    const topics = ['anon/x', 'sensor_data/sensor-1', 'config_change/sensor-1', 'config_change/sensor-2', 'home/lamp', 'home/secret', 'dev/s1/cmd', 'dev/uu/cmd', 'other'];
    const local = await AclFile.load(path);
    const broker = await startMosquitto({ listenerLines: [`acl_file ${path}`] });
    try {
      const at = ['-h', '127.0.0.1', '-p', String(broker.port)];
      const subs = readers.map(([id, user]) => startTool('mosquitto_sub', [...at, '-i', id, ...(user ? ['-u', user] : []), '-t', '#', '-F', '%t', '-d', '-W', '10'], { timeoutMs: 15_000 }));
      await Promise.all(subs.map((sub) => sub.waitForStdout(subscribed)));
      const publish = (topic: string) => runTool('mosquitto_pub', [...at, '-u', 'god', '-t', topic, '-m', 'm', '-q', '1']);
      for (const topic of topics) assert.equal((await publish(topic)).code, 0);
      for (const [id] of readers) if (!id.includes('+')) await publish(`end/${id}`);
      for (let i = 0; i < readers.length; i++) {
        const id = readers[i]![0];
        if (!id.includes('+')) await subs[i]!.waitForStdout(new RegExp(`^end/${id}$`, 'm'));
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // the reader without an end marker
      for (let i = 0; i < readers.length; i++) {
        const [id, user] = readers[i]!;
        subs[i]!.kill('SIGTERM');
        const seen = withoutTrace(subs[i]!.stdout).split('\n').filter((line) => line && !line.startsWith('end/'));
        const expected = topics.filter((topic) => read(local, who(id, user), topic));
        assert.deepEqual(seen, expected, `reader ${id}`);
      }
    } finally {
      await broker.stop();
    }
  });
});
