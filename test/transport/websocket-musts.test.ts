// The MQTT-over-WebSocket MUSTs (MQTT 5.0 and 3.1.1 §6, same numbering) on a `protocol websockets`
// listener, with a raw `ws` client: binary frames only, packets not aligned on frames, subprotocol "mqtt".

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { assemble, type AssembledBroker } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { silentLogger } from '../../src/broker/logger.js';
import { PacketParser } from '../../src/protocol/parser.js';
import { encodePacket } from '../../src/protocol/writer.js';
import type { ConnectPacket, Packet } from '../../src/protocol/packets.js';
import { findFreePort } from '../helpers/ports.js';

let running: AssembledBroker;
let port: number;
before(async () => {
  port = await findFreePort();
  const file = join(mkdtempSync(join(tmpdir(), 'culex-ws-musts-')), 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  running = await assemble(config, { logger: silentLogger });
});
after(() => running.close());

const connect: ConnectPacket = { type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: 'ws-musts' };

/** A WebSocket to the listener offering `protocols`; collects the MQTT packets it receives. */
function open(protocols: string[]): Promise<{ socket: WebSocket; packets: Packet[]; closed: Promise<void>; nextPacket: () => Promise<Packet> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, protocols);
    const packets: Packet[] = [];
    const parser = new PacketParser({ protocolVersion: 4, side: 'client' });
    let wake: (() => void) | undefined;
    socket.on('message', (data: Buffer) => {
      parser.push(data, (packet) => {
        packets.push(packet);
      });
      wake?.();
    });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    const nextPacket = async (): Promise<Packet> => {
      for (let i = 0; i < 100 && packets.length === 0; i++) {
        await new Promise<void>((done) => {
          wake = done;
          setTimeout(done, 50);
        });
      }
      const packet = packets.shift();
      if (packet === undefined) throw new Error('no packet');
      return packet;
    };
    socket.on('open', () => resolve({ socket, packets, closed, nextPacket }));
    socket.on('error', reject);
  });
}

test('[MQTT-6.0.0-1] MQTT bytes in a text frame close the connection, and are not processed', async () => {
  const watcher = await open(['mqtt']);
  watcher.socket.send(encodePacket({ ...connect, clientId: 'ws-watcher' }, 4), { binary: true });
  assert.equal((await watcher.nextPacket()).type, 'connack');
  watcher.socket.send(encodePacket({ type: 'subscribe', packetId: 1, subscriptions: [{ filter: 'ws/text', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4), { binary: true });
  assert.equal((await watcher.nextPacket()).type, 'suback');

  const { socket, packets, closed, nextPacket } = await open(['mqtt']);
  socket.send(encodePacket({ ...connect, clientId: 'ws-texter' }, 4), { binary: true });
  assert.equal((await nextPacket()).type, 'connack');
  // a PUBLISH whose bytes are all ASCII, so that they make a valid text frame
  socket.send(encodePacket({ type: 'publish', topic: 'ws/text', payload: Buffer.from('as text'), qos: 0, retain: false, dup: false }, 4).toString('latin1'), { binary: false });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise<string>((done) => (timer = setTimeout(() => done('still open'), 3000)))]);
  clearTimeout(timer);
  socket.terminate();
  assert.equal(outcome, 'closed');
  assert.deepEqual(packets, []);
  watcher.socket.send(encodePacket({ type: 'pingreq' }, 4), { binary: true });
  assert.equal((await watcher.nextPacket()).type, 'pingresp', 'the text frame was delivered as a PUBLISH');
  watcher.socket.close();
});

test('[MQTT-6.0.0-2] MQTT packets are not assumed aligned on frames: one split over two frames, two in one frame', async () => {
  const { socket, nextPacket } = await open(['mqtt']);
  const bytes = encodePacket(connect, 4);
  socket.send(bytes.subarray(0, 5), { binary: true });
  socket.send(bytes.subarray(5), { binary: true });
  assert.equal((await nextPacket()).type, 'connack');
  socket.send(Buffer.concat([encodePacket({ type: 'pingreq' }, 4), encodePacket({ type: 'subscribe', packetId: 3, subscriptions: [{ filter: 'ws/a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4)]), { binary: true });
  assert.equal((await nextPacket()).type, 'pingresp');
  const suback = await nextPacket();
  assert.equal(suback.type, 'suback');
  socket.close();
});

test('[MQTT-6.0.0-4] the subprotocol the server selects is "mqtt" when the client offers it', async () => {
  for (const offered of [['mqtt'], ['chat', 'mqtt']]) {
    const { socket, closed } = await open(offered);
    assert.equal(socket.protocol, 'mqtt', offered.join(','));
    socket.close();
    await closed;
  }
});
