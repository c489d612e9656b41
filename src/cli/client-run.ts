// The lifetime of a long-running client (sub, rr): ends on its own condition, on -W, or on
// SIGINT/SIGTERM, with mosquitto's exit codes (27 timed out, 255 if interrupted before CONNACK).

import { performance } from 'node:perf_hooks';
import type { IPublishPacket } from 'mqtt-packet';
import type { ClientConnection } from './client-connect.js';
import { MosquittoError, mosquittoStrerror } from './client-messages.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { ReceivedMessage } from './sub-format.js';
import type { Terminal } from './terminal.js';

/** exit(-1) in mosquitto_sub's signal handler when no CONNACK has arrived yet. */
const INTERRUPTED_BEFORE_CONNACK = 255;

export class ClientRun {
  readonly done: Promise<number>;
  #resolve: (code: number) => void = () => {};
  #connected = false;
  #finishing = false;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #onSignal = (): void => this.#interrupt(false);

  constructor(private readonly connection: ClientConnection, private readonly terminal: Terminal, timeoutSeconds: number) {
    this.done = new Promise((resolve) => { this.#resolve = resolve; });
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    this.#timer = timeoutSeconds > 0 ? setTimeout(() => this.#interrupt(true), timeoutSeconds * 1000) : undefined;
  }

  get finishing(): boolean {
    return this.#finishing;
  }

  /** After the first CONNACK a signal disconnects cleanly instead of exiting at once. */
  markConnected(): void {
    this.#connected = true;
  }

  /** Disconnects (waiting for outstanding acknowledgements), then ends the run with `code`. */
  finish(code: number, reasonCode?: number, message?: string): void {
    if (this.#finishing) return;
    this.#finishing = true;
    void this.connection.end(reasonCode).then(() => {
      if (message) this.terminal.error(message);
      this.#settle(code);
    });
  }

  /** Ends the run without a DISCONNECT, e.g. after a refused CONNACK. */
  abort(code: number): void {
    if (this.#finishing) return;
    this.#finishing = true;
    this.connection.destroy();
    this.#settle(code);
  }

  #interrupt(timedOut: boolean): void {
    if (!this.#connected) {
      this.abort(INTERRUPTED_BEFORE_CONNACK);
      return;
    }
    // mosquitto_sub ends this way with reason 0x04, so a v5 broker still sends the will.
    const reason = this.connection.options.protocolVersion === 5 ? ReasonCode.DisconnectWithWillMessage : undefined;
    if (timedOut) this.finish(MosquittoError.Timeout, reason, `${mosquittoStrerror(MosquittoError.Timeout)}\n`);
    else this.finish(0, reason);
  }

  #settle(code: number): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    if (this.#timer) clearTimeout(this.#timer);
    this.#resolve(code);
  }
}

/** A received PUBLISH as the output formats see it, stamped with the time it arrived. */
export function receivedMessage(packet: IPublishPacket): ReceivedMessage {
  const now = performance.timeOrigin + performance.now();
  const seconds = Math.floor(now / 1000);
  return {
    topic: packet.topic,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    qos: packet.qos,
    retain: packet.retain,
    mid: packet.messageId ?? 0,
    properties: packet.properties,
    time: new Date(now),
    nanos: Math.min(999_999_999, Math.round((now - seconds * 1000) * 1e6)),
  };
}
