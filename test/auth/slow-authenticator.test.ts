// An asynchronous authenticate hook that takes its time for one client holds up only that client:
// the port promises "a slow promise only holds up the client that waits for it" (src/auth/port.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from '../../src/auth/port.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

const slowMs = 2000;

const slowForOne: Authenticator = {
  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    if (request.clientId !== 'slow') return { reasonCode: 0 };
    return new Promise((resolve) => setTimeout(() => resolve({ reasonCode: 0 }), slowMs));
  },
};

test('an authenticate hook taking 2 s for one client does not delay another client\'s CONNACK', async (t) => {
  const broker = await startBroker({ authenticator: slowForOne });
  const clients: RawClient[] = [];
  try {
    const slowStarted = performance.now();
    const slow = await RawClient.open(broker.port);
    clients.push(slow);
    slow.send({ type: 'connect', protocolName: 'MQTT', protocolVersion: 4, bridge: false, clean: true, keepalive: 0, clientId: 'slow' });
    const slowConnack = slow.expect('connack', slowMs + 2000);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the slow check is under way

    const fastStarted = performance.now();
    const fast = await RawClient.connected(broker.port, { clientId: 'fast' });
    const fastMs = performance.now() - fastStarted;
    clients.push(fast);
    assert.equal(slow.closed, false);

    assert.equal((await slowConnack).reasonCode, 0);
    const slowTotal = performance.now() - slowStarted;
    t.diagnostic(`fast client's CONNACK after ${fastMs.toFixed(1)} ms; slow client's after ${slowTotal.toFixed(0)} ms`);
    assert.ok(fastMs < 500, `the fast client waited ${fastMs.toFixed(1)} ms`);
    assert.ok(slowTotal >= slowMs - 50, 'the slow client did wait for its hook');
  } finally {
    for (const client of clients) client.destroy();
    await broker.close();
  }
});
