// Nothing acknowledged is lost across a Culex restart: Culex, with persistence on, bridges `out` to
// Debian's Mosquitto while Mosquitto is down; local publishers send QoS 1 and QoS 2 messages that
// Culex acknowledges; Culex is stopped (SIGTERM, or SIGKILL right after the acknowledgements) and
// started again on the same data directory; then the remote comes up, and a subscriber on it gets
// every acknowledged message, in order per topic, the QoS 2 ones exactly once.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';
import { startCulexProcess, type CulexProcess } from '../helpers/culex-process.js';
import { eventually, startMosquittoConf, type RunningBroker } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;
const COUNT = 25;

/** A remote subscriber whose session outlives the remote's restart; `received()` gives payloads per topic in arrival order. */
async function sink(port: number): Promise<{ peer: Peer; received: () => Map<string, string[]> }> {
  // the inbox listens before CONNECT goes out, so what the resumed session sends at once is kept
  const peer = await connectPeer(url(port), { clientId: 'central-sink', clean: false, protocolVersion: 4 });
  const byTopic = new Map<string, string[]>();
  const received = (): Map<string, string[]> => {
    for (const message of peer.inbox.drain()) byTopic.set(message.topic, [...(byTopic.get(message.topic) ?? []), message.payload]);
    return byTopic;
  };
  return { peer, received };
}

async function restartScenario(t: TestContext, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (!needTools(t, ['mosquitto'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-bridge-restart-'));
  const remoteLines = ['persistence true', `persistence_location ${join(dir, 'remote')}/`];
  const remotePort = await findFreePort();
  const peers: Peer[] = [];
  let remote: RunningBroker | undefined;
  let culex: CulexProcess | undefined;
  mkdirSync(join(dir, 'remote'));
  mkdirSync(join(dir, 'culex'));
  try {
    // The central subscriber's session is made first, so the remote keeps what arrives for it
    // whichever of the bridge and the subscriber reconnects first.
    remote = await startMosquittoConf(remotePort, remoteLines);
    const first = await sink(remotePort);
    await first.peer.client.subscribeAsync('central/#', { qos: 2 });
    await endPeers(first.peer);
    await remote.stop();
    remote = undefined;

    const conf = join(dir, 'culex.conf');
    writeFileSync(
      conf,
      [
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${join(dir, 'culex')}/`,
        'connection uplink',
        `address 127.0.0.1:${remotePort}`,
        'remote_clientid site-uplink',
        'restart_timeout 1',
        'topic # out 2 site/ central/',
        '',
      ].join('\n'),
    );
    culex = await startCulexProcess(['-c', conf], 30_000);
    const publisher = await connectPeer(url(culex.port), { clientId: 'site-sensor', protocolVersion: 5 });
    peers.push(publisher);
    // sent in this order on one connection, each awaited to its PUBACK / PUBCOMP
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < COUNT; i++) {
      acks.push(publisher.client.publishAsync('site/q1', `one-${i}`, { qos: 1 }));
      acks.push(publisher.client.publishAsync('site/q2', `two-${i}`, { qos: 2 }));
    }
    await Promise.all(acks);
    const exit = await culex.stop(signal);
    culex = undefined;
    if (signal === 'SIGTERM') assert.equal(exit.code, 0, 'graceful stop');
    else assert.equal(exit.signal, 'SIGKILL');
    publisher.client.end(true);
    peers.length = 0;

    culex = await startCulexProcess(['-c', conf], 30_000);
    remote = await startMosquittoConf(remotePort, remoteLines);
    const central = await sink(remotePort);
    peers.push(central.peer);
    const all = (topic: string, prefix: string): boolean => (central.received().get(topic) ?? []).includes(`${prefix}-${COUNT - 1}`);
    try {
      await eventually(() => all('central/q1', 'one') && all('central/q2', 'two'), 40_000, 'every held message at the remote');
    } catch (error) {
      throw new Error(`${String(error)}; received ${JSON.stringify([...central.received()])}\nculex: ${culex.log()}\nremote: ${remote.log().slice(-4000)}`);
    }

    // End markers after everything: what comes before them on each topic is the whole story.
    const closer = await connectPeer(url(culex.port), { clientId: 'site-closer' });
    peers.push(closer);
    await closer.client.publishAsync('site/q1', 'end', { qos: 1 });
    await closer.client.publishAsync('site/q2', 'end', { qos: 2 });
    await eventually(() => (central.received().get('central/q1') ?? []).includes('end') && (central.received().get('central/q2') ?? []).includes('end'), 30_000, 'the end markers');

    const expected = (prefix: string): string[] => [...Array.from({ length: COUNT }, (_, i) => `${prefix}-${i}`), 'end'];
    // QoS 2: each exactly once, in order
    assert.deepEqual(central.received().get('central/q2'), expected('two'));
    // QoS 1: at least once; in order once the redeliveries of one message are folded together
    const ones = central.received().get('central/q1')!.filter((payload, i, list) => i === 0 || list[i - 1] !== payload);
    assert.deepEqual([...new Set(ones)], expected('one'));
    assert.deepEqual(ones, [...new Set(ones)], 'QoS 1 in order per topic');
  } finally {
    await endPeers(...peers);
    await culex?.stop('SIGKILL');
    await remote?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a bridge keeps acknowledged QoS 1/2 messages across a graceful Culex restart while the remote is down', (t) => restartScenario(t, 'SIGTERM'));

test('a bridge keeps acknowledged QoS 1/2 messages across a SIGKILL of Culex while the remote is down', (t) => restartScenario(t, 'SIGKILL'));
