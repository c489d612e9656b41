// A TCP relay on a free loopback port to another loopback port, which a test can cut and restore:
// cut() closes every relayed connection and refuses new ones until restore(). Put between one
// cluster node and Redis, it cuts that node off while the others keep reaching Redis; with a delay,
// it makes that node's every round trip to Redis slow (each chunk waits delayMs each way, in order).
import { createServer, connect, type Socket } from 'node:net';
import { findFreePort } from './ports.js';

export interface TcpCut {
  readonly port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpCut(targetPort: number, delayMs = 0): Promise<TcpCut> {
  const port = await findFreePort();
  const open = new Set<Socket>();
  let refusing = false;
  const server = createServer((inbound) => {
    if (refusing) return inbound.destroy();
    const outbound = connect(targetPort, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    if (delayMs === 0) {
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      return;
    }
    // timers of one duration fire in the order they were set: the bytes keep their order
    const relay = (from: Socket, to: Socket): void => void from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
    relay(inbound, outbound);
    relay(outbound, inbound);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const dropAll = (): void => {
    for (const socket of open) socket.destroy();
  };
  return {
    port,
    cut() {
      refusing = true;
      dropAll();
    },
    restore() {
      refusing = false;
    },
    close() {
      refusing = true;
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
