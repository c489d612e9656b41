// Bridge options in mosquitto.conf: Mosquitto's names, defaults and error texts, each error with
// the file and line (texts checked against mosquitto 2.0's own output for the same files).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import type { CulexConfig } from '../../src/config/config.js';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'culex-bridge-conf-')), 'mosquitto.conf');
  writeFileSync(path, text);
  return path;
}

function read(text: string): CulexConfig {
  const result = readMosquittoConf(file(`listener 1883\n${text}`));
  if (result instanceof ConfigError) assert.fail(result.toString());
  return result;
}

function refused(text: string): string[] {
  const path = file(`listener 1883\n${text}`);
  const result = readMosquittoConf(path);
  assert.ok(result instanceof ConfigError, 'expected a configuration error');
  return result.lines().map((line) => line.replace(path, 'FILE'));
}

test('a minimal connection gets Mosquitto defaults', () => {
  const [bridge] = read('connection edge\naddress central.example\ntopic sensor_data/#\n').bridges;
  assert.ok(bridge);
  assert.deepEqual(bridge.addresses, [{ host: 'central.example', port: 1883 }]);
  assert.equal(bridge.remoteClientId, `${hostname()}.edge`);
  assert.equal(bridge.localClientId, `local.${hostname()}.edge`);
  assert.equal(bridge.notificationTopic, `$SYS/broker/connection/${hostname()}.edge/state`);
  assert.equal(bridge.protocolVersion, 4);
  assert.equal(bridge.cleanSession, false);
  assert.equal(bridge.localCleanSession, false);
  assert.equal(bridge.keepalive, 60);
  assert.deepEqual(bridge.restartTimeout, { base: 5, cap: 30 });
  assert.equal(bridge.startType, 'automatic');
  assert.equal(bridge.idleTimeout, 60);
  assert.equal(bridge.threshold, 10);
  assert.equal(bridge.notifications, true);
  assert.equal(bridge.notificationsLocalOnly, false);
  assert.equal(bridge.tryPrivate, true);
  assert.equal(bridge.attemptUnsubscribe, true);
  assert.equal(bridge.outgoingRetain, true);
  assert.equal(bridge.tls, undefined);
  assert.deepEqual(bridge.topics.map((t) => [t.direction, t.qos, t.localTopic, t.remoteTopic]), [['out', 0, 'sensor_data/#', 'sensor_data/#']]);
});

test('every option is read with its value', () => {
  const [bridge] = read(
    [
      'connection edge',
      'addresses 10.0.0.1:8883 [::1]:1884 ::1:1885',
      'round_robin true',
      'topic "" both 2 local/state remote/state',
      'topic sensor_data/# OUT 1 site/ ""',
      'bridge_protocol_version mqttv50',
      'cleansession true',
      'local_cleansession false',
      'local_clientid loc',
      'remote_clientid rem',
      'remote_username u',
      'remote_password p',
      'local_username lu',
      'local_password lp',
      'keepalive_interval 2',
      'restart_timeout 10 60',
      'start_type lazy',
      'idle_timeout 30',
      'threshold 5',
      'notifications false',
      'notifications_local_only true',
      'notification_topic edge/state',
      'try_private false',
      'bridge_attempt_unsubscribe false',
      'bridge_outgoing_retain false',
      'bridge_max_packet_size 1000',
      'bridge_bind_address 127.0.0.1',
      'bridge_cafile ca.crt',
      'bridge_certfile c.crt',
      'bridge_keyfile c.key',
      'bridge_insecure true',
      'bridge_tls_version tlsv1.3',
      'bridge_alpn mqtt',
      'bridge_require_ocsp false',
    ].join('\n'),
  ).bridges;
  assert.ok(bridge);
  assert.deepEqual(bridge.addresses, [
    { host: '10.0.0.1', port: 8883 },
    { host: '::1', port: 1884 },
    { host: '::1', port: 1885 },
  ]);
  assert.equal(bridge.roundRobin, true);
  assert.deepEqual(bridge.topics.map((t) => [t.pattern, t.direction, t.qos, t.localTopic, t.remoteTopic]), [
    [undefined, 'both', 2, 'local/state', 'remote/state'],
    ['sensor_data/#', 'out', 1, 'site/sensor_data/#', 'sensor_data/#'],
  ]);
  assert.equal(bridge.protocolVersion, 5);
  assert.equal(bridge.cleanSession, true);
  assert.equal(bridge.localCleanSession, false);
  assert.equal(bridge.localClientId, 'loc');
  assert.equal(bridge.remoteClientId, 'rem');
  assert.deepEqual([bridge.remoteUsername, bridge.remotePassword, bridge.localUsername, bridge.localPassword], ['u', 'p', 'lu', 'lp']);
  assert.equal(bridge.keepalive, 5, 'keepalive_interval below 5 becomes 5, as in Mosquitto');
  assert.deepEqual(bridge.restartTimeout, { base: 10, cap: 60 });
  assert.deepEqual([bridge.startType, bridge.idleTimeout, bridge.threshold], ['lazy', 30, 5]);
  assert.deepEqual([bridge.notifications, bridge.notificationsLocalOnly, bridge.notificationTopic], [false, true, 'edge/state']);
  assert.deepEqual([bridge.tryPrivate, bridge.attemptUnsubscribe, bridge.outgoingRetain, bridge.maxPacketSize, bridge.bindAddress], [false, false, false, 1000, '127.0.0.1']);
  assert.deepEqual(bridge.tls, { cafile: 'ca.crt', capath: undefined, certfile: 'c.crt', keyfile: 'c.key', insecure: true, version: 'tlsv1.3', alpn: 'mqtt', psk: undefined });
});

test('cleansession sets local_cleansession unless that is given; old names clientid, username, password still work', () => {
  const [bridge] = read('connection a\naddress h\ntopic t\ncleansession true\nclientid old\nusername u\npassword p\n').bridges;
  assert.ok(bridge);
  assert.deepEqual([bridge.localCleanSession, bridge.remoteClientId, bridge.remoteUsername, bridge.remotePassword], [true, 'old', 'u', 'p']);
});

test('bridge errors name the file and line, with mosquitto 2.0 texts', () => {
  assert.deepEqual(refused('address 127.0.0.1\n'), ['Error: Invalid bridge configuration.', 'Error found at FILE:2.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nconnection a\n'), ['Error: Duplicate bridge name "a".', 'Error found at FILE:5.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic "" out 1\n'), ['Error: Invalid bridge remapping.', 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic "" out 1 a/ ""\n'), ['Error: Invalid bridge remapping.', 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x sideways\n'), ["Error: Invalid bridge topic direction 'sideways'.", 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x in 3\n'), ["Error: Invalid bridge QoS level '3'.", 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x in 1 a/+\n'), ["Error: Invalid bridge topic local prefix 'a/+'.", 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\nrestart_timeout 5 2\ntopic x\n'), ['Error: backoff cap is lower than the base in restart_timeout.', 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\nstart_type foo\ntopic x\n'), ['Error: Invalid start_type value in configuration (foo).', 'Error found at FILE:4.']);
  assert.deepEqual(refused('connection a\naddress h\nbridge_protocol_version mqttv4\n'), ['Error: Invalid bridge_protocol_version value (mqttv4).', 'Error found at FILE:4.']);
});

test('a connection without address or topic is refused at its connection line', () => {
  assert.deepEqual(refused('connection a\n'), ['Error: Invalid bridge configuration: no remote addresses defined.', 'Error found at FILE:2.']);
  assert.deepEqual(refused('connection a\naddress 127.0.0.1:1\n'), ['Error: Invalid bridge configuration: no topics defined.', 'Error found at FILE:2.']);
});

test('bridge_identity and bridge_psk: TLS-PSK, given together, never with certificates', () => {
  const [bridge] = read('connection a\naddress h\ntopic x\nbridge_identity edge1\nbridge_psk 00ff10\n').bridges;
  assert.deepEqual(bridge?.tls?.psk, { identity: 'edge1', key: Buffer.from([0x00, 0xff, 0x10]) });
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nbridge_psk 0x00ff\n'), ['Error: Invalid bridge_psk value (0x00ff): hexadecimal digits without 0x.', 'Error found at FILE:5.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nbridge_psk 00ff\n'), ['Error: Invalid bridge configuration: bridge_identity and bridge_psk must be given together.', 'Error found at FILE:2.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nbridge_identity i\nbridge_psk 00ff\nbridge_cafile ca.crt\n'), [
    'Error: Invalid bridge configuration: certificate based TLS and PSK cannot be used on one bridge.',
    'Error found at FILE:2.',
  ]);
});

test('bridge options Culex does not implement stay start-up errors naming file and line', () => {
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nbridge_reload_type lazy\n'), ['Error: The option "bridge_reload_type" is not supported by Culex.', 'Error found at FILE:5.']);
  assert.deepEqual(refused('connection a\naddress h\ntopic x\nbridge_require_ocsp true\n'), ['Error: bridge_require_ocsp true is not supported by Culex.', 'Error found at FILE:5.']);
});
