// Starts a Culex broker in this process on a free loopback port, for tests.

import { createBroker, type Culex, type CulexOptions } from '../../src/index.js';

export interface TestBroker {
  readonly culex: Culex;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startBroker(options: CulexOptions = {}): Promise<TestBroker> {
  const culex = createBroker(options);
  const listener = await culex.listen({ port: 0, host: '127.0.0.1' });
  return {
    culex,
    port: listener.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    close: () => culex.close(),
  };
}
