// MQTT.js as a test peer: connect with a bounded wait, collect what a client receives in an inbox
// attached before CONNECT goes out (so a resumed session's first messages are not missed), and wait
// for the next message, or for silence, with a timeout.
import { connect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient, type MqttClientEventCallbacks } from 'mqtt';

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly packet: IPublishPacket;
}

/** Every message a client receives, in order, taken one at a time. */
export class Inbox {
  private readonly messages: Received[] = [];
  private wake: (() => void) | undefined;

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), packet });
      this.wake?.();
    });
  }

  /** Messages received and not yet taken. */
  get size(): number {
    return this.messages.length;
  }

  /** The next message; rejects when none arrives within timeoutMs. */
  async next(timeoutMs = 3000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
    return this.messages.shift()!;
  }

  /** The next `count` messages, in arrival order. */
  async take(count: number, timeoutMs = 3000): Promise<Received[]> {
    const taken: Received[] = [];
    const deadline = Date.now() + timeoutMs;
    while (taken.length < count) taken.push(await this.next(Math.max(1, deadline - Date.now())));
    return taken;
  }

  /** Takes every message received so far (retained messages a broad filter brought, for instance). */
  drain(): Received[] {
    return this.messages.splice(0);
  }

  /** True when nothing arrives within ms. */
  async nothingWithin(ms: number): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.messages.length === 0;
  }
}

export interface Peer {
  readonly client: MqttClient;
  readonly inbox: Inbox;
  readonly connack: IConnackPacket;
}

/**
 * Connects an MQTT.js client (no automatic reconnect unless asked) and resolves with its CONNACK;
 * rejects if the connection fails, closes or takes longer than timeoutMs.
 */
export function connectPeer(url: string, options: IClientOptions = {}, timeoutMs = 5000): Promise<Peer> {
  const client = connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, ...options });
  const inbox = new Inbox(client);
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      cleanup();
      client.end(true);
      reject(error);
    };
    const onConnect = (connack: IConnackPacket): void => {
      cleanup();
      resolve({ client, inbox, connack });
    };
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(new Error('connection closed before CONNACK'));
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

/** Ends every client, gracefully (DISCONNECT) unless forced, without waiting longer than 2 s each. */
export async function endPeers(...peers: readonly (Peer | MqttClient | undefined)[]): Promise<void> {
  await Promise.all(
    peers.map(async (peer) => {
      const client = peer === undefined ? undefined : 'inbox' in peer ? peer.client : peer;
      if (client === undefined) return;
      const timer = setTimeout(() => client.end(true), 2000);
      try {
        await client.endAsync();
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Resolves with the arguments of the client's next `event`; rejects after timeoutMs. */
export function waitFor<E extends keyof MqttClientEventCallbacks>(
  client: MqttClient,
  event: E,
  timeoutMs = 3000,
): Promise<Parameters<MqttClientEventCallbacks[E]>> {
  return new Promise((resolve, reject) => {
    const listener = ((...args: Parameters<MqttClientEventCallbacks[E]>) => {
      clearTimeout(timer);
      resolve(args);
    }) as MqttClientEventCallbacks[E];
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    client.once(event, listener);
  });
}
