// QoS 2 exactly once across a lost connection in the middle of the flow. The bridge (Culex) forwards
// a QoS 2 message to a remote Culex through a TCP relay that cuts the connection right after the
// remote's PUBREC (the bridge never sees it). The remote delivers QoS 2 messages on receipt and
// keeps the packet id until PUBREL [MQTT-4.3.3-10]; the bridge's session there persists
// (cleansession false). On reconnection the bridge must resend the PUBLISH under the same packet id
// with DUP [MQTT-4.4.0-1], so that the remote does not deliver it a second time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connectPeer, endPeers, type Peer } from '../helpers/mqttjs.js';
import { findFreePort } from '../helpers/ports.js';
import { eventually, startCulexConf, type CulexFromConf } from '../helpers/bridge-peers.js';

const url = (port: number): string => `mqtt://127.0.0.1:${port}`;
const PUBREC = 5;

/** Splits a byte stream into MQTT packet types (fixed header: type nibble, then the remaining length varint). */
class PacketTypes {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): number[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const types: number[] = [];
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      for (; offset < 5 && offset < this.buffer.length; offset++) {
        const byte = this.buffer[offset]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (offset >= this.buffer.length || this.buffer.length < offset + 1 + length) return types;
      types.push(this.buffer[0]! >> 4);
      this.buffer = this.buffer.subarray(offset + 1 + length);
    }
  }
}

/** A TCP relay to `target` that, once armed, cuts the connection when the server sends PUBREC, without passing the PUBREC on (once). */
async function cuttingRelay(target: number): Promise<{ port: number; arm: () => void; cuts: () => number; close: () => Promise<void> }> {
  const port = await findFreePort();
  const sockets = new Set<Socket>();
  let armed = false;
  let cuts = 0;
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    const types = new PacketTypes();
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      const pubrec = types.push(chunk).includes(PUBREC);
      if (armed && cuts === 0 && pubrec) {
        cuts++;
        return cut();
      }
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', cut);
      socket.on('close', () => {
        sockets.delete(socket);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    arm: () => {
      armed = true;
    },
    cuts: () => cuts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const version of ['mqttv311', 'mqttv50'] as const) {
  test(`${version} bridge: a QoS 2 message whose PUBREC was lost is resent under its packet id with DUP, and the remote delivers it once [MQTT-4.4.0-1] [MQTT-4.3.3-10]`, async () => {
    const remotePort = await findFreePort();
    const remote = await startCulexConf(remotePort, `listener ${remotePort} 127.0.0.1\nallow_anonymous true\n`);
    const relay = await cuttingRelay(remotePort);
    const edgePort = await findFreePort();
    let edge: CulexFromConf | undefined;
    const peers: Peer[] = [];
    try {
      const sink = await connectPeer(url(remotePort), { clientId: 'qos2-sink', protocolVersion: 5 });
      peers.push(sink);
      await sink.client.subscribeAsync('up/#', { qos: 2 });
      edge = await startCulexConf(
        edgePort,
        [`listener ${edgePort} 127.0.0.1`, 'allow_anonymous true', 'connection resume', `address 127.0.0.1:${relay.port}`, 'remote_clientid qos2-edge', `bridge_protocol_version ${version}`, 'restart_timeout 1', 'topic up/# out 2'].join('\n'),
      );
      const bridge = edge.assembled.bridges.list[0]!;
      await eventually(() => bridge.state === 'connected', 15_000, 'bridge connected');
      const publisher = await connectPeer(url(edgePort), { clientId: 'qos2-publisher', protocolVersion: 5 });
      peers.push(publisher);
      // a few complete flows first, so that the lost one's packet id is not the first of a connection
      for (const n of [1, 2, 3]) await publisher.client.publishAsync('up/once', `before-${n}`, { qos: 2 });
      relay.arm();
      await publisher.client.publishAsync('up/once', 'exactly-once', { qos: 2 });
      await eventually(() => relay.cuts() === 1, 15_000, 'the relay cut after the PUBREC');
      await eventually(() => bridge.status.counters.connects === 2 && bridge.status.queued === 0, 20_000, 'reconnected and the message completed');
      await publisher.client.publishAsync('up/once', 'end', { qos: 2 });
      const got: string[] = [];
      await eventually(() => got.push(...sink.inbox.drain().map((m) => m.payload)) >= 0 && got.includes('end'), 20_000, 'the end marker');
      assert.deepEqual(got, ['before-1', 'before-2', 'before-3', 'exactly-once', 'end']);
    } finally {
      await endPeers(...peers);
      await edge?.stop();
      await relay.close();
      await remote.stop();
    }
  });
}
