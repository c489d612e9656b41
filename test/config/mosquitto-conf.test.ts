// The mosquitto.conf reader: Mosquitto 2.0's grammar, its error lines with file:line, include_dir
// order, and the local-only defaults.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, includeOrder, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import type { CulexConfig } from '../../src/config/config.js';

function confFile(text: string, name = 'mosquitto.conf'): string {
  const dir = mkdtempSync(join(tmpdir(), 'culex-conf-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function read(text: string): CulexConfig {
  const result = readMosquittoConf(confFile(text));
  if (result instanceof ConfigError) assert.fail(result.toString());
  return result;
}

function error(text: string): { lines: string[]; file: string } {
  const file = confFile(text);
  const result = readMosquittoConf(file);
  assert.ok(result instanceof ConfigError, 'expected a configuration error');
  return { lines: result.lines(), file };
}

test('an empty file is local-only mode: no listeners, anonymous clients allowed', () => {
  const config = read('');
  assert.equal(config.localOnly, true);
  assert.deepEqual(config.listeners, []);
  assert.equal(config.allowAnonymous, true);
});

test('any listener turns allow_anonymous off by default (Mosquitto 2.0)', () => {
  const config = read('listener 1883\n');
  assert.equal(config.localOnly, false);
  assert.equal(config.allowAnonymous, false);
  assert.equal(config.listeners[0]!.port, 1883);
  assert.equal(config.listeners[0]!.address, undefined);
});

test('allow_anonymous true with a listener is honoured', () => {
  assert.equal(read('listener 1883\nallow_anonymous true\n').allowAnonymous, true);
});

test('port alone makes the legacy default listener, and turns allow_anonymous off', () => {
  const config = read('port 1884\nbind_address 127.0.0.1\n');
  assert.equal(config.localOnly, false);
  assert.equal(config.allowAnonymous, false);
  assert.deepEqual([config.listeners[0]!.port, config.listeners[0]!.address], [1884, '127.0.0.1']);
});

test('the option name ends at the first space; string values keep inner spaces and lose outer blanks', () => {
  const config = read('listener 1883\nallow_anonymous true\npassword_file   /etc/my passwords \t\n');
  assert.equal(config.passwordFile, '/etc/my passwords');
});

test('# starts a comment only as the first character of a line', () => {
  assert.equal(read('# a comment\n\nlistener 1883\n').listeners.length, 1);
  const { lines, file } = error('  # indented\n');
  assert.deepEqual(lines, ['Error: Unknown configuration variable "#".', `Error found at ${file}:1.`]);
});

test('CRLF line endings are accepted', () => {
  const config = read('listener 1883\r\nallow_anonymous true\r\nmax_qos 1\r\n');
  assert.equal(config.allowAnonymous, true);
  assert.equal(config.limits.maxQos, 1);
});

test('booleans accept true/false/1/0 and nothing else', () => {
  assert.equal(read('allow_anonymous 1\n').allowAnonymous, true);
  assert.equal(read('allow_anonymous 0\n').allowAnonymous, false);
  const { lines, file } = error('\nallow_anonymous yes\n');
  assert.deepEqual(lines, ['Error: Invalid allow_anonymous value (yes).', `Error found at ${file}:2.`]);
});

test('an unknown option gives Mosquitto\'s two error lines', () => {
  const { lines, file } = error('listener 1883\nno_such_option 1\n');
  assert.deepEqual(lines, ['Error: Unknown configuration variable "no_such_option".', `Error found at ${file}:2.`]);
});

test('a tab after the option name is part of the name (strtok on spaces only)', () => {
  const { lines } = error('allow_anonymous\ttrue\n');
  assert.equal(lines[0], 'Error: Unknown configuration variable "allow_anonymous\ttrue".');
});

test('a string option given twice is an error', () => {
  const { lines, file } = error('password_file /a\npassword_file /b\n');
  assert.deepEqual(lines, ['Error: Duplicate password_file value in configuration.', `Error found at ${file}:2.`]);
});

test('an empty string value is an error', () => {
  const { lines, file } = error('pid_file\n');
  assert.deepEqual(lines, ['Error: Empty pid_file value in configuration.', `Error found at ${file}:1.`]);
});

test('certfile may be given once per listener', () => {
  const config = read('listener 8883\ncertfile /a\nkeyfile /k\nlistener 8884\ncertfile /b\nkeyfile /k\n');
  assert.deepEqual(config.listeners.map((l) => l.certfile), ['/a', '/b']);
  assert.match(error('listener 8883\ncertfile /a\ncertfile /b\n').lines[0]!, /Duplicate certfile/);
});

test('options Mosquitto has but Culex does not are refused by name with file:line', () => {
  for (const line of ['bridge_reload_type lazy', 'plugin /x.so', 'auth_opt_x y', 'queue_qos0_messages true', 'log_dest dlt', 'crlfile /c']) {
    const { lines, file } = error(`listener 1883\n${line}\n`);
    assert.match(lines[0]!, /not supported by Culex/, line);
    assert.equal(lines[1], `Error found at ${file}:2.`);
  }
});

test('http_dir, mount_point and Unix socket listeners are refused', () => {
  assert.match(error('listener 9001\nprotocol websockets\nhttp_dir /www\n').lines[0]!, /http_dir .*not supported/);
  assert.match(error('listener 1883\nmount_point a/\n').lines[0]!, /mount_point is not supported/);
  assert.match(error('listener 0 /tmp/mqtt.sock\n').lines[0]!, /Unix socket/);
});

test('bad numbers name the option and the value', () => {
  assert.match(error('max_qos 3\n').lines[0]!, /^Error: Invalid max_qos value \(3\)/);
  assert.match(error('listener 70000\n').lines[0]!, /^Error: Invalid listener value \(70000\)/);
  assert.match(error('max_packet_size 10\n').lines[0]!, /at least 20/);
  assert.match(error('max_inflight_messages many\n').lines[0]!, /Invalid max_inflight_messages value \(many\)/);
});

test('listener options attach to the latest listener', () => {
  const config = read(
    'listener 1883 127.0.0.1\nmax_connections 5\nlistener 9001\nprotocol websockets\nsocket_domain ipv4\nlistener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nrequire_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3\nciphers HIGH\n',
  );
  const [plain, ws, tls] = config.listeners;
  assert.deepEqual([plain!.address, plain!.maxConnections, plain!.protocol], ['127.0.0.1', 5, 'mqtt']);
  assert.deepEqual([ws!.protocol, ws!.socketDomain, ws!.maxConnections], ['websockets', 'ipv4', -1]);
  assert.deepEqual(
    [tls!.certfile, tls!.keyfile, tls!.cafile, tls!.requireCertificate, tls!.useIdentityAsUsername, tls!.tlsVersion, tls!.ciphers],
    ['/c', '/k', '/ca', true, true, 'tlsv1.3', 'HIGH'],
  );
});

test('certfile without keyfile is an error at the listener line', () => {
  const { lines, file } = error('\nlistener 8883\ncertfile /c\n');
  assert.deepEqual(lines, ['Error: Both certfile and keyfile must be provided in order to enable TLS support.', `Error found at ${file}:2.`]);
});

test('require_certificate needs a CA', () => {
  assert.match(error('listener 8883\ncertfile /c\nkeyfile /k\nrequire_certificate true\n').lines[0]!, /cafile or capath/);
});

test('broker limits map to typed values', () => {
  const config = read(
    [
      'max_inflight_messages 5',
      'max_queued_messages 50',
      'max_queued_bytes 1000',
      'max_keepalive 120',
      'max_packet_size 2000',
      'message_size_limit 1000',
      'max_topic_alias 3',
      'retain_available false',
      'allow_zero_length_clientid false',
      'auto_id_prefix cx-',
      'persistent_client_expiration 2d',
      '',
    ].join('\n'),
  );
  assert.deepEqual(config.limits, {
    maxInflightMessages: 5,
    maxQueuedMessages: 50,
    maxQueuedBytes: 1000,
    maxKeepalive: 120,
    maxPacketSize: 2000,
    messageSizeLimit: 1000,
    maxTopicAlias: 3,
    retainAvailable: false,
    allowZeroLengthClientId: false,
    autoIdPrefix: 'cx-',
    persistentClientExpiration: 172_800,
  });
});

test('persistent_client_expiration takes h, d, w, m, y (and plain seconds)', () => {
  const seconds = (value: string): number | undefined => read(`persistent_client_expiration ${value}\n`).limits.persistentClientExpiration;
  assert.deepEqual(['1h', '1d', '1w', '1m', '1y', '90'].map(seconds), [3600, 86_400, 604_800, 2_592_000, 31_536_000, 90]);
  assert.match(error('persistent_client_expiration 1x\n').lines[0]!, /Invalid persistent_client_expiration value \(1x\)/);
});

test('log_dest, log_type, log_timestamp and connection_messages', () => {
  const config = read('log_dest stdout\nlog_dest file /var/log/culex.log\nlog_type error\nlog_type subscribe\nlog_timestamp false\nconnection_messages false\n');
  assert.deepEqual(config.log.destinations, [{ kind: 'stdout' }, { kind: 'file', path: '/var/log/culex.log' }]);
  assert.deepEqual(config.log.types, ['error', 'subscribe']);
  assert.equal(config.log.timestamp, false);
  assert.equal(config.log.connectionMessages, false);
  assert.deepEqual(read('').log.destinations, [{ kind: 'stderr' }]);
});

test('user is accepted with a notice that Culex does not drop privileges', () => {
  const config = read('user mosquitto\n');
  assert.equal(config.user, 'mosquitto');
  assert.match(config.notices[0]!, /does not drop privileges/);
});

test('include_dir loads *.conf in Mosquitto order: upper case before lower case of a letter', () => {
  assert.deepEqual(['b.conf', 'B.conf', 'a.conf', '01.conf', 'A.conf', '00.conf'].sort(includeOrder), ['00.conf', '01.conf', 'A.conf', 'a.conf', 'B.conf', 'b.conf']);
  const dir = mkdtempSync(join(tmpdir(), 'culex-inc-'));
  const conf = join(dir, 'conf.d');
  mkdirSync(conf);
  // each file sets a different auto_id_prefix would be a duplicate; listeners show the order instead
  writeFileSync(join(conf, 'b.conf'), 'listener 1005\n');
  writeFileSync(join(conf, 'B.conf'), 'listener 1004\n');
  writeFileSync(join(conf, 'a.conf'), 'listener 1003\n');
  writeFileSync(join(conf, 'A.conf'), 'listener 1002\n');
  writeFileSync(join(conf, '00.conf'), 'listener 1001\n');
  writeFileSync(join(conf, 'ignored.txt'), 'listener 1999\n');
  const main = join(dir, 'mosquitto.conf');
  writeFileSync(main, `include_dir ${conf}\n`);
  const config = readMosquittoConf(main);
  assert.ok(!(config instanceof ConfigError), String(config));
  assert.deepEqual(config.listeners.map((l) => l.port), [1001, 1002, 1003, 1004, 1005]);
});

test('an error in an included file names that file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-inc-'));
  const conf = join(dir, 'conf.d');
  mkdirSync(conf);
  writeFileSync(join(conf, 'x.conf'), 'listener 1883\nbogus 1\n');
  const main = join(dir, 'mosquitto.conf');
  writeFileSync(main, `include_dir ${conf}\n`);
  const result = readMosquittoConf(main);
  assert.ok(result instanceof ConfigError);
  assert.deepEqual(result.lines(), ['Error: Unknown configuration variable "bogus".', `Error found at ${join(conf, 'x.conf')}:2.`]);
});

test('include_dir is refused inside an included file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-inc-'));
  const conf = join(dir, 'conf.d');
  mkdirSync(conf);
  writeFileSync(join(conf, 'x.conf'), `include_dir ${dir}\n`);
  const main = join(dir, 'mosquitto.conf');
  writeFileSync(main, `include_dir ${conf}\n`);
  const result = readMosquittoConf(main);
  assert.ok(result instanceof ConfigError);
  assert.match(result.lines()[0]!, /only allowed in the main configuration file/);
  assert.equal(result.lines()[1], `Error found at ${join(conf, 'x.conf')}:1.`);
});

test('a missing include_dir is an error', () => {
  assert.match(error('include_dir /no/such/dir\n').lines[0]!, /Unable to open include_dir/);
});

test("Debian's stock /etc/mosquitto/mosquitto.conf is accepted and runs local-only", () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-debian-'));
  const conf = join(dir, 'conf.d');
  mkdirSync(conf);
  writeFileSync(join(conf, 'README'), 'Any files placed in this directory that have a .conf ending will be loaded as config files by the broker.\n');
  const main = join(dir, 'mosquitto.conf');
  writeFileSync(
    main,
    [
      '# Place your local configuration in /etc/mosquitto/conf.d/',
      '#',
      '# A full description of the configuration file is at',
      '# /usr/share/doc/mosquitto/examples/mosquitto.conf.example',
      '',
      'pid_file /run/mosquitto/mosquitto.pid',
      '',
      'persistence true',
      'persistence_location /var/lib/mosquitto/',
      '',
      'log_dest file /var/log/mosquitto/mosquitto.log',
      '',
      `include_dir ${conf}`,
      '',
    ].join('\n'),
  );
  const config = readMosquittoConf(main);
  assert.ok(!(config instanceof ConfigError), String(config));
  assert.equal(config.localOnly, true);
  assert.equal(config.allowAnonymous, true);
  assert.equal(config.pidFile, '/run/mosquitto/mosquitto.pid');
  assert.equal(config.persistence, true);
  assert.equal(config.persistenceLocation, '/var/lib/mosquitto/');
  assert.deepEqual(config.log.destinations, [{ kind: 'file', path: '/var/log/mosquitto/mosquitto.log' }]);
});

test('a missing main file is an error', () => {
  const result = readMosquittoConf('/no/such/mosquitto.conf');
  assert.ok(result instanceof ConfigError);
  assert.deepEqual(result.lines(), ['Error: Unable to open config file /no/such/mosquitto.conf.']);
});
