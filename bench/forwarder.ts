// A trivial MQTT forwarder, the floor the fan-out bench calibrates against: it answers CONNECT,
// SUBSCRIBE, UNSUBSCRIBE and PINGREQ minimally and writes every PUBLISH's bytes, verbatim, to every
// connection that has subscribed to anything (no topic matching, no sessions, no QoS state beyond
// acknowledging the publisher). Whatever a real broker adds costs time on top of this.
//   node --import tsx bench/forwarder.ts [--port 1883] [--host 127.0.0.1]
// Each chunk read is framed in place; the PUBLISH packets of one chunk are forwarded to each subscriber
// as one buffer (one write per subscriber per chunk, like Culex's per-turn outbox).

import { createServer, type Socket } from 'node:net';

const CONNECT = 1;
const PUBLISH = 3;
const PUBREL = 6;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const PINGREQ = 12;
const DISCONNECT = 14;

/** A subscriber this far behind loses messages rather than grow the forwarder without bound. */
const MAX_BACKLOG = 64 * 1024 * 1024;

const subscribers = new Set<Socket>();
let dropped = 0;

class Connection {
  private held: Buffer | undefined = undefined;
  private version = 4;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => subscribers.delete(socket));
  }

  private onData(chunk: Buffer): void {
    const buf = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
    this.held = undefined;
    const forward: Buffer[] = [];
    let forwardBytes = 0;
    let pos = 0;
    while (pos < buf.length) {
      // Fixed header: type byte and a Variable Byte Integer of at most 4 bytes (MQTT 5.0 §2.1.4).
      let remaining = 0;
      let multiplier = 1;
      let at = pos + 1;
      let complete = false;
      for (let i = 0; i < 4 && at < buf.length; i++) {
        const byte = buf[at++]!;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || at + remaining > buf.length) break;
      const type = buf[pos]! >> 4;
      const end = at + remaining;
      if (type === PUBLISH) {
        forward.push(buf.subarray(pos, end));
        forwardBytes += end - pos;
        const qos = (buf[pos]! >> 1) & 3;
        if (qos > 0) {
          const idAt = at + 2 + buf.readUInt16BE(at); // after the Topic Name
          this.socket.write(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, buf[idAt]!, buf[idAt + 1]!])); // PUBACK / PUBREC
        }
      } else {
        this.answer(type, buf, at, end);
      }
      pos = end;
    }
    if (pos < buf.length) this.held = Buffer.from(buf.subarray(pos));
    if (forward.length === 0) return;
    const out = forward.length === 1 ? forward[0]! : Buffer.concat(forward, forwardBytes);
    for (const subscriber of subscribers) {
      if (subscriber === this.socket) continue;
      if (subscriber.writableLength > MAX_BACKLOG) dropped++;
      else subscriber.write(out);
    }
  }

  /** Everything but PUBLISH: the smallest answer that lets a client go on. */
  private answer(type: number, buf: Buffer, body: number, end: number): void {
    switch (type) {
      case CONNECT: {
        // Protocol Name (2-byte length + bytes), then the level byte: 5 needs a CONNACK with properties.
        this.version = buf[body + 2 + buf.readUInt16BE(body)]!;
        this.socket.write(Buffer.from(this.version === 5 ? [0x20, 3, 0, 0, 0] : [0x20, 2, 0, 0]));
        return;
      }
      case SUBSCRIBE: {
        let at = body + 2;
        if (this.version === 5) at = skipProperties(buf, at);
        const granted: number[] = [];
        while (at < end) {
          at += 2 + buf.readUInt16BE(at);
          granted.push(buf[at++]! & 3);
        }
        const props = this.version === 5 ? [0] : [];
        this.socket.write(Buffer.from([0x90, 2 + props.length + granted.length, buf[body]!, buf[body + 1]!, ...props, ...granted]));
        subscribers.add(this.socket);
        return;
      }
      case UNSUBSCRIBE:
        this.socket.write(Buffer.from([0xb0, 2, buf[body]!, buf[body + 1]!]));
        return;
      case PUBREL:
        this.socket.write(Buffer.from([0x70, 2, buf[body]!, buf[body + 1]!])); // PUBCOMP
        return;
      case PINGREQ:
        this.socket.write(Buffer.from([0xd0, 0]));
        return;
      case DISCONNECT:
        this.socket.end();
        return;
      default:
        return; // PUBACK, PUBREC, PUBCOMP from subscribers: nothing is tracked
    }
  }
}

function skipProperties(buf: Buffer, at: number): number {
  let length = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const byte = buf[at++]!;
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) break;
  }
  return at + length;
}

function main(): void {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const port = Number(value('--port') ?? 1883);
  const host = value('--host') ?? '127.0.0.1';
  const server = createServer({ noDelay: true }, (socket) => new Connection(socket));
  server.listen({ port, host }, () => process.stdout.write(`forwarder listening on ${host}:${port}\n`));
  const stop = (): void => {
    if (dropped > 0) process.stderr.write(`forwarder: ${dropped} forwards dropped (subscriber backlog over ${MAX_BACKLOG} bytes)\n`);
    for (const socket of subscribers) socket.destroy();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main();
