// log_dest and log_type as Mosquitto has them: lines in a file (reopened on SIGHUP), filtered by
// type; syslog records through logger(1) into a Unix datagram socket; $SYS/broker/log/<level> topics.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { SyslogSink, daemonFacility } from '../../src/observability/syslog.js';
import { connectPeer, endPeers } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';

async function run(extra: (dir: string) => string): Promise<{ running: AssembledBroker; url: string; port: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'culex-log-'));
  const port = await findFreePort();
  const file = join(dir, 'culex.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\nallow_anonymous true\nsys_interval 0\n${extra(dir)}`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  return { running: await assemble(config), url: `mqtt://127.0.0.1:${port}`, port, dir };
}

/** Waits (bounded) until the file contains the pattern; returns the whole text. */
async function fileMatches(path: string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (pattern.test(text)) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`${path} never matched ${pattern}:\n${text}`);
}

test('log_dest file gets the connection and disconnection lines in Mosquitto\'s format, with epoch timestamps', async () => {
  const { running, port, url, dir } = await run((d) => `log_dest file ${join(d, 'culex.log')}\n`);
  const log = join(dir, 'culex.log');
  try {
    const peer = await connectPeer(url, { clientId: 'file-logged', keepalive: 30 });
    await peer.client.subscribeAsync('quiet/#');
    await endPeers(peer);
    const text = await fileMatches(log, /Client file-logged disconnected\./);
    assert.match(text, new RegExp(`^\\d+: New connection from 127\\.0\\.0\\.1:\\d+ on port ${port}\\.$`, 'm'));
    assert.match(text, /^\d+: New client connected from 127\.0\.0\.1:\d+ as file-logged \(p2, c1, k30\)\.$/m);
    assert.match(text, /^\d+: Client file-logged disconnected\.$/m);
    assert.doesNotMatch(text, /quiet\/#/, 'subscribe lines are not in the default log_type set');
  } finally {
    await running.close();
  }
});

test('log_type filters: only the listed types are written (subscribe and error, no information or notice)', async () => {
  const { running, url, dir } = await run((d) => `log_dest file ${join(d, 'culex.log')}\nlog_type error\nlog_type subscribe\nlog_type unsubscribe\n`);
  const log = join(dir, 'culex.log');
  try {
    const peer = await connectPeer(url, { clientId: 'typed' });
    await peer.client.subscribeAsync('sensors/+/temperature', { qos: 1 });
    await peer.client.unsubscribeAsync('sensors/+/temperature');
    await endPeers(peer);
    const text = await fileMatches(log, /typed sensors\/\+\/temperature\n/);
    assert.match(text, /^\d+: typed 1 sensors\/\+\/temperature$/m, 'subscribe line: client, QoS, filter');
    assert.match(text, /^\d+: typed sensors\/\+\/temperature$/m, 'unsubscribe line: client, filter');
    assert.doesNotMatch(text, /New client connected|New connection|disconnected/);
  } finally {
    await running.close();
  }
});

test('log_timestamp false and connection_messages false: bare lines, no per-connection lines', async () => {
  const { running, url, dir } = await run((d) => `log_dest file ${join(d, 'culex.log')}\nlog_timestamp false\nconnection_messages false\nlog_type all\n`);
  const log = join(dir, 'culex.log');
  try {
    const peer = await connectPeer(url, { clientId: 'bare' });
    await peer.client.subscribeAsync('bare/topic');
    await endPeers(peer);
    const text = await fileMatches(log, /^bare 0 bare\/topic$/m);
    assert.doesNotMatch(text, /^\d+: /m);
    assert.doesNotMatch(text, /New client connected|New connection from|Client bare disconnected/);
  } finally {
    await running.close();
  }
});

test('log_timestamp_format stamps lines with a strftime format instead of epoch seconds', async () => {
  const { running, url, dir } = await run((d) => `log_dest file ${join(d, 'culex.log')}\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n`);
  const log = join(dir, 'culex.log');
  try {
    const peer = await connectPeer(url, { clientId: 'formatted' });
    await endPeers(peer);
    const text = await fileMatches(log, /Client formatted disconnected/);
    const line = text.split('\n').find((l) => l.endsWith('Client formatted disconnected.'))!;
    const stamp = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d): /.exec(line);
    assert.ok(stamp, line);
    const written = new Date(Number(stamp[1]), Number(stamp[2]) - 1, Number(stamp[3]), Number(stamp[4]), Number(stamp[5]), Number(stamp[6]));
    assert.ok(Math.abs(Date.now() - written.getTime()) < 120_000, `local time ${line} is now`);
  } finally {
    await running.close();
  }
});

test('SIGHUP reload reopens log_dest file, so logrotate can move it away', async () => {
  const { running, url, dir } = await run((d) => `log_dest file ${join(d, 'culex.log')}\n`);
  const log = join(dir, 'culex.log');
  try {
    const first = await connectPeer(url, { clientId: 'before-rotation' });
    await endPeers(first);
    await fileMatches(log, /Client before-rotation disconnected/);
    renameSync(log, `${log}.1`);
    await running.reload();
    const second = await connectPeer(url, { clientId: 'after-rotation' });
    await endPeers(second);
    const text = await fileMatches(log, /Client after-rotation disconnected/);
    assert.doesNotMatch(text, /before-rotation/);
    assert.doesNotMatch(readFileSync(`${log}.1`, 'utf8'), /after-rotation/);
  } finally {
    await running.close();
  }
});

test('log_dest file that cannot be opened is a start-up error naming the file', async () => {
  const { configuredLogger } = await import('../../src/config/assemble.js');
  const dir = mkdtempSync(join(tmpdir(), 'culex-log-'));
  const file = join(dir, 'culex.conf');
  writeFileSync(file, `log_dest file ${join(dir, 'missing-dir', 'culex.log')}\n`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  assert.throws(() => configuredLogger(config), /Unable to open log file .*missing-dir\/culex\.log for writing/);
});

test('log_dest topic publishes log lines on $SYS/broker/log/N, /I and /M/subscribe', async () => {
  const { running, url } = await run(() => 'log_dest topic\nlog_type all\n');
  const watcher = await connectPeer(url, { clientId: 'log-watcher' });
  try {
    const lines: string[] = [];
    watcher.client.on('message', (topic, payload) => lines.push(`${topic} ${payload.toString()}`));
    await watcher.client.subscribeAsync('$SYS/broker/log/#', { qos: 2 });
    const peer = await connectPeer(url, { clientId: 'topic-logged' });
    await peer.client.subscribeAsync('room/1/#', { qos: 1 });
    await endPeers(peer);
    const deadline = Date.now() + 5000;
    const wanted = [
      /^\$SYS\/broker\/log\/N \d+: New connection from 127\.0\.0\.1:\d+ on port \d+\.$/,
      /^\$SYS\/broker\/log\/I \d+: New client connected from 127\.0\.0\.1:\d+ as topic-logged \(p2, c1, k60\)\.$/,
      /^\$SYS\/broker\/log\/M\/subscribe \d+: topic-logged 1 room\/1\/#$/,
      /^\$SYS\/broker\/log\/N \d+: Client topic-logged disconnected\.$/,
    ];
    while (Date.now() < deadline && !wanted.every((pattern) => lines.some((line) => pattern.test(line)))) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const pattern of wanted) assert.ok(lines.some((line) => pattern.test(line)), `${pattern} not in:\n${lines.join('\n')}`);
    assert.ok(!lines.some((line) => line.startsWith('$SYS/broker/log/D')), 'debug lines are not published, as in Mosquitto');
  } finally {
    await endPeers(watcher);
    await running.close();
  }
});

/** A Unix datagram socket (what /dev/log is) read by python3, printing each record on a line. */
function syslogReceiver(path: string): { records: () => string[]; ready: Promise<void>; stop: () => void } {
  const script = [
    'import os, socket, sys',
    'p = sys.argv[1]',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(p)',
    's.settimeout(30)',
    'print("ready", flush=True)',
    'while True:',
    '    try:',
    '        data = s.recv(65536)',
    '    except socket.timeout:',
    '        break',
    '    print(data.decode("utf-8", "replace").replace("\\n", " "), flush=True)',
  ].join('\n');
  const child = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.startsWith('ready\n')) onReady();
  });
  return {
    records: () => output.split('\n').slice(1).filter(Boolean),
    ready,
    stop: () => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    },
  };
}

test('log_dest syslog: records go through logger(1) with <facility·8+severity>, the culex tag and the broker PID', async (t) => {
  if (!needTools(t, ['logger', 'python3'], 'bsdutils python3')) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-syslog-'));
  const socketPath = join(dir, 'log.sock');
  const receiver = syslogReceiver(socketPath);
  await receiver.ready;
  const sink = new SyslogSink({ facility: daemonFacility, tag: 'culex', socket: socketPath });
  const local3 = new SyslogSink({ facility: 16 + 3, tag: 'culex', socket: socketPath });
  try {
    sink.write('error', 'Error: something failed');
    sink.write('notice', 'New connection from 127.0.0.1:5000 on port 1883.');
    local3.write('information', 'New client connected from 127.0.0.1:5000 as c (p2, c1, k60).');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && receiver.records().length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    const records = receiver.records();
    assert.equal(records.length, 3, records.join('\n'));
    const error = records.find((r) => r.includes('something failed'));
    const notice = records.find((r) => r.includes('New connection'));
    const info = records.find((r) => r.includes('New client connected'));
    assert.match(error ?? '', new RegExp(`^<27>.*culex\\[${process.pid}\\]: Error: something failed$`), 'daemon.err = 3·8+3');
    assert.match(notice ?? '', /^<29>/, 'daemon.notice = 3·8+5');
    assert.match(info ?? '', /^<158>/, 'local3.info = 19·8+6');
  } finally {
    sink.close();
    local3.close();
    receiver.stop();
  }
});

test('log_facility N selects local N; log_dest syslog and topic parse; dlt is refused with file:line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-logconf-'));
  const file = join(dir, 'culex.conf');
  writeFileSync(file, 'log_dest syslog\nlog_dest topic\nlog_facility 5\n');
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  assert.deepEqual(config.log.destinations, [{ kind: 'syslog' }, { kind: 'topic' }]);
  assert.equal(config.log.facility, 21);
  writeFileSync(file, 'log_dest stdout\nlog_facility 8\n');
  const error = readMosquittoConf(file);
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.lines(), ['Error: Invalid log_facility value (8); must be an integer from 0 to 7.', `Error found at ${file}:2.`]);
});
