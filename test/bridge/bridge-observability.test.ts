// A bridge's state and counters as operators see them: Culex-only $SYS/broker/bridges/<name>/...
// topics every sys_interval, and culex_bridge_* samples on the metrics listener's /metrics.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { eventually, startCulexConf } from '../helpers/bridge-peers.js';

test('$SYS/broker/bridges/<name>/… and /metrics show the bridge connected and counting messages', async () => {
  const centralPort = await findFreePort();
  const central = await startCulexConf(centralPort, `listener ${centralPort} 127.0.0.1\nallow_anonymous true\n`);
  const edgePort = await findFreePort();
  const metricsPort = await findFreePort();
  const edge = await startCulexConf(
    edgePort,
    [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', 'sys_interval 1', `metrics_listener ${metricsPort}`, 'connection uplink', `address 127.0.0.1:${centralPort}`, 'remote_clientid edge-obs', 'topic up/# out 1'].join('\n'),
  );
  let peer: Peer | undefined;
  try {
    await eventually(() => edge.assembled.bridges.list[0]!.state === 'connected', 10_000, 'bridge connected');
    peer = await connectPeer(`mqtt://127.0.0.1:${edgePort}`);
    await peer.client.publishAsync('up/a', '1', { qos: 1 });
    await eventually(() => edge.assembled.bridges.status()[0]!.counters.messagesSent === 1, 5000, 'message sent');
    await peer.client.subscribeAsync('$SYS/broker/bridges/uplink/#', { qos: 0 });
    const values = new Map<string, string>();
    await eventually(() => {
      for (const m of peer!.inbox.drain()) values.set(m.topic, m.payload);
      return values.get('$SYS/broker/bridges/uplink/messages/sent') === '1';
    }, 10_000, 'bridge $SYS topics');
    assert.equal(values.get('$SYS/broker/bridges/uplink/state'), 'connected');
    assert.equal(values.get('$SYS/broker/bridges/uplink/address'), `127.0.0.1:${centralPort}`);
    assert.equal(values.get('$SYS/broker/bridges/uplink/connects'), '1');
    const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(body, /^culex_bridge_connected\{bridge="uplink"\} 1$/m);
    assert.match(body, /^culex_bridge_messages_sent_total\{bridge="uplink"\} 1$/m);
    assert.match(body, /^# TYPE culex_bridge_messages_queued gauge$/m);
  } finally {
    await endPeers(peer);
    await edge.stop();
    await central.stop();
  }
});
