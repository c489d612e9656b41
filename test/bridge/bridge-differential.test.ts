// One mosquitto.conf with a `connection` section, run by Debian's Mosquitto and by Culex as the
// local broker, each bridging to a central Mosquitto of its own: the same clients doing the same
// things at both ends must see the same messages (topics, payloads, QoS, retain flags).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { eventually, startCulexConf, startMosquittoConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;

/** The bridge section both brokers run (after their listener lines). */
const bridgeSection = (centralPort: number): string[] => [
  'connection diff',
  `address 127.0.0.1:${centralPort}`,
  'remote_clientid diff-bridge',
  'restart_timeout 1',
  'topic sensor_data/# out 1 site/ central/',
  'topic config_change/# in 1 "" central/',
  'topic chat/# both 0',
  'topic "" out 1 local/status central/edge/status',
  'topic retained/# out 1',
];

interface Seen {
  readonly at: 'edge' | 'central';
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

async function observe(local: 'mosquitto' | 'culex'): Promise<Seen[]> {
  const centralPort = await findFreePort();
  const central = await startMosquittoConf(centralPort, []);
  const edgePort = await findFreePort();
  let edge: RunningBroker | undefined;
  const peers: Peer[] = [];
  try {
    // a retained message is already on the edge when the bridge starts: it goes up on connection
    const lines = bridgeSection(centralPort);
    edge = local === 'mosquitto' ? await startMosquittoConf(edgePort, lines) : await startCulexConf(edgePort, [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', ...lines].join('\n'));
    const atCentral = await connectPeer(url(centralPort));
    peers.push(atCentral);
    await atCentral.client.subscribeAsync('$SYS/broker/connection/#', { qos: 1 });
    await eventually(() => atCentral.inbox.size > 0, 15_000, `${local}: bridge state on the centre`);
    await atCentral.client.subscribeAsync(['central/#', 'chat/#', 'retained/#'], { qos: 1 });
    const atEdge = await connectPeer(url(edgePort));
    peers.push(atEdge);
    await atEdge.client.subscribeAsync(['config_change/#', 'chat/#', '$SYS/broker/connection/#', 'central/#'], { qos: 1 });
    // the bridge's remote subscriptions are in place once a probe comes down
    await eventually(() => atEdge.inbox.size > 1 || (void atCentral.client.publish('central/config_change/probe', 'p', { qos: 1 }), false), 10_000, `${local}: messages coming down`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    atEdge.inbox.drain();
    atCentral.inbox.drain();

    await atEdge.client.publishAsync('site/sensor_data/greenhouse', '21.5', { qos: 1 });
    await atEdge.client.publishAsync('site/other', 'stays', { qos: 1 });
    await atEdge.client.publishAsync('sensor_data/raw', 'no prefix, not bridged', { qos: 1 });
    await atEdge.client.publishAsync('chat/edge', 'hello from the edge', { qos: 0 });
    await atEdge.client.publishAsync('local/status', 'online', { qos: 1, retain: true });
    await atEdge.client.publishAsync('retained/config', 'kept', { qos: 1, retain: true });
    await atCentral.client.publishAsync('central/config_change/rate', '5', { qos: 1 });
    await atCentral.client.publishAsync('central/other', 'stays central', { qos: 1 });
    await atCentral.client.publishAsync('chat/central', 'hello from the centre', { qos: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1500));

    // a late subscriber at the centre sees what the bridge left retained there
    const late = await connectPeer(url(centralPort));
    peers.push(late);
    await late.client.subscribeAsync(['central/edge/#', 'retained/#', '$SYS/broker/connection/#'], { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));

    const seen: Seen[] = [];
    const take = (at: Seen['at'], peer: Peer, retainedOnly = false): void => {
      for (const m of peer.inbox.drain()) {
        if (retainedOnly && !m.packet.retain) continue;
        seen.push({ at, topic: m.topic, payload: m.payload, qos: m.packet.qos, retain: m.packet.retain });
      }
    };
    take('edge', atEdge);
    take('central', atCentral);
    take('central', late, true);
    return seen.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  } finally {
    await endPeers(...peers);
    await edge?.stop();
    await central.stop();
  }
}

test('the same connection section gives the same message flow with Mosquitto and with Culex as the local broker', async (t: TestContext) => {
  if (!needTools(t, ['mosquitto'])) return;
  const mosquitto = await observe('mosquitto');
  const culex = await observe('culex');
  assert.ok(mosquitto.length >= 8, `mosquitto's flow has the expected messages: ${JSON.stringify(mosquitto)}`);
  if (process.env.SHOW_FLOW) console.log(JSON.stringify(mosquitto, null, 0));
  assert.deepEqual(culex, mosquitto);
});
