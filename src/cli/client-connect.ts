// Turns ClientOptions into a connected MQTT.js client: our own socket (for -A, --nodelay, --unix and
// the TLS flags), Mosquitto's client-id and message-id habits, the -d trace, and the CONNACK outcome.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { MqttClient, type IClientOptions, type IClientPublishOptions } from 'mqtt';
import type { IConnackPacket, IConnectPacket, IDisconnectPacket, Packet } from 'mqtt-packet';
import type { ClientOptions, TlsSettings } from './client-options.js';
import { MosquittoError, mosquittoStrerror, socketErrorLine } from './client-messages.js';
import { connectProperties, disconnectProperties, willProperties } from './client-properties.js';
import { PacketTrace } from './packet-trace.js';
import type { Terminal } from './terminal.js';

export type ConnectOutcome =
  | { readonly kind: 'connected'; readonly connack: IConnackPacket }
  /** The broker answered with a failing CONNACK; `code` is its return / reason code. */
  | { readonly kind: 'refused'; readonly code: number }
  /** No CONNACK at all; the reason has been printed. */
  | { readonly kind: 'failed'; readonly exitCode: number };

/**
 * Message ids as libmosquitto hands them out: one counter from 1 for every PUBLISH (QoS 0 included),
 * SUBSCRIBE and UNSUBSCRIBE, so traces read "m1, m2, …" like mosquitto's. MQTT.js starts at random.
 */
class SequentialMessageIds {
  #last = 0;
  readonly #inUse = new Set<number>();

  next(): number {
    this.#last = this.#last >= 65535 ? 1 : this.#last + 1;
    return this.#last;
  }
  allocate(): number | null {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.next();
      if (!this.#inUse.has(id)) {
        this.#inUse.add(id);
        return id;
      }
    }
    return null;
  }
  getLastAllocated(): number | null {
    return this.#last === 0 ? null : this.#last;
  }
  register(id: number): boolean {
    if (this.#inUse.has(id)) return false;
    this.#inUse.add(id);
    return true;
  }
  deallocate(id: number): void {
    this.#inUse.delete(id);
  }
  clear(): void {
    this.#inUse.clear();
  }
}

const tlsVersions: Readonly<Record<string, tls.SecureVersion>> = { 'tlsv1.3': 'TLSv1.3', 'tlsv1.2': 'TLSv1.2', 'tlsv1.1': 'TLSv1.1' };

function readCaPath(dir: string): Buffer[] {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => readFileSync(path))
    .filter((pem) => pem.includes('-----BEGIN CERTIFICATE-----'));
}

/** Node TLS options for the TLS flags, or the error text mosquitto prints for them. */
function tlsConnectOptions(settings: TlsSettings, host: string): tls.ConnectionOptions | string {
  const options: tls.ConnectionOptions = { minVersion: 'TLSv1.2' };
  try {
    const ca = [
      ...(settings.cafile ? [readFileSync(settings.cafile)] : []),
      ...(settings.capath ? readCaPath(settings.capath) : []),
    ];
    if (ca.length) options.ca = ca;
    if (settings.certfile) options.cert = readFileSync(settings.certfile);
    if (settings.keyfile) options.key = readFileSync(settings.keyfile);
  } catch {
    return 'Error: Problem setting TLS options: File not found.\n';
  }
  if (settings.version !== undefined) {
    // libmosquitto treats the version as a floor: tlsv1.2 still allows 1.3.
    const version = tlsVersions[settings.version];
    if (!version) return 'Error: Problem setting TLS options, check the options are valid.\n';
    options.minVersion = version;
  }
  if (settings.ciphers) options.ciphers = settings.ciphers;
  if (settings.alpn) options.ALPNProtocols = [settings.alpn];
  if (net.isIP(host) === 0) options.servername = host;
  // --insecure skips the hostname check only; the chain is still verified, as in libmosquitto 2.0.
  if (settings.insecure) options.checkServerIdentity = () => undefined;
  return options;
}

export interface PublishResult {
  readonly error?: Error & { code?: unknown };
  /** The id of the refused message, when the broker refused it with a reason code. */
  readonly messageId?: number;
}

export class ClientConnection {
  readonly client: MqttClient;
  readonly trace: PacketTrace | undefined;
  readonly ids = new SequentialMessageIds();
  /** Settles on the first CONNACK or on the failure to get one. */
  readonly outcome: Promise<ConnectOutcome>;
  /** Resolves when the network connection drops without end() having been called. */
  readonly lost: Promise<void>;
  #ending = false;
  /** Whether the current socket is connected (and, for TLS, through its handshake). */
  #socketReady = false;
  /** Whether any TCP connection got established, telling refused connections from dropped ones. */
  #tcpConnected = false;
  #retry: NodeJS.Timeout | undefined;
  #socket: net.Socket | undefined;

  private constructor(readonly options: ClientOptions, terminal: Terminal, tlsOptions: tls.ConnectionOptions | undefined) {
    const v5 = options.protocolVersion === 5;
    const connect: NonNullable<IConnectPacket['properties']> = { ...(v5 ? connectProperties(options.properties.connect) : undefined) };
    // -C n below libmosquitto's default of 20 also lowers receive-maximum so no extra messages arrive.
    if (v5 && options.messageCount > 0 && options.messageCount < 20 && connect.receiveMaximum === undefined) {
      connect.receiveMaximum = options.messageCount;
    }
    const will = options.will;
    const mqttOptions: IClientOptions = {
      manualConnect: true,
      protocolVersion: options.protocolVersion,
      protocolId: options.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      clientId: options.clientId, // '' really sends an empty id; MQTT.js would otherwise invent one
      clean: options.cleanSession,
      keepalive: options.keepalive,
      username: options.username,
      password: options.password,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      messageIdProvider: this.ids,
      properties: v5 && Object.keys(connect).length ? connect : undefined,
      will: will && {
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain,
        properties: v5 ? willProperties(options.properties.will) : undefined,
      },
    };
    this.client = new MqttClient(() => this.#openSocket(tlsOptions), mqttOptions);
    this.trace = options.debug ? new PacketTrace(options.clientId, options.protocolVersion, (line) => terminal.print(line)) : undefined;
    this.#watchPackets();

    let settle: (outcome: ConnectOutcome) => void = () => {};
    this.outcome = new Promise((resolve) => { settle = resolve; });
    let markLost: () => void = () => {};
    this.lost = new Promise((resolve) => { markLost = resolve; });
    this.#watchOutcome(terminal, settle, markLost);
    this.client.connect();
  }

  /**
   * Settles `outcome` the way libmosquitto's clients end up: CONNACK code, socket error (exit 1),
   * TLS failure (exit 1), or a connection closed before any CONNACK (exit 7; sub retries instead).
   */
  #watchOutcome(terminal: Terminal, settle: (outcome: ConnectOutcome) => void, markLost: () => void): void {
    let connected = false;
    let settled = false;
    const fail = (text: string, exitCode: number): void => {
      if (settled) return;
      settled = true;
      terminal.error(text);
      settle({ kind: 'failed', exitCode });
    };
    this.client.on('packetreceive', (packet) => {
      if (packet.cmd !== 'connack' || settled) return;
      const code = (this.options.protocolVersion === 5 ? packet.reasonCode : packet.returnCode) ?? 0;
      connected = code === 0;
      settled = true;
      settle(connected ? { kind: 'connected', connack: packet } : { kind: 'refused', code });
    });
    this.client.on('error', (error: Error & { code?: string | number }) => {
      const code = error.code;
      if (typeof code === 'number') return; // a refused CONNACK, already handled as a packet
      if (this.options.tls !== undefined && isTlsError(error)) fail(`Unable to connect (${mosquittoStrerror(MosquittoError.Tls)}).\n`, 1);
      else if (!this.#tcpConnected) fail(socketErrorLine(code, error.message), 1);
      // Errors on an established connection (a reset, say) end as a lost connection, on 'close'.
    });
    this.client.on('close', () => {
      if (connected) {
        if (!this.#ending && this.client.options.reconnectPeriod === 0) markLost();
        return;
      }
      if (settled || this.#ending || !this.#tcpConnected) return; // socket errors are reported by 'error'
      if (this.options.command === 'sub') {
        // mosquitto_sub's loop keeps reconnecting; pub and rr give up.
        this.#retry = setTimeout(() => this.client.reconnect(), 1000);
        return;
      }
      fail(`Error: ${mosquittoStrerror(MosquittoError.ConnectionLost)}\n`, MosquittoError.ConnectionLost);
    });
  }

  /** Opens the connection; a number is the exit code when the TLS files are unusable. */
  static open(options: ClientOptions, terminal: Terminal): ClientConnection | number {
    let tlsOptions: tls.ConnectionOptions | undefined;
    if (options.tls) {
      const result = tlsConnectOptions(options.tls, options.host);
      if (typeof result === 'string') {
        terminal.error(result);
        return 1;
      }
      tlsOptions = result;
    }
    return new ClientConnection(options, terminal, tlsOptions);
  }

  #openSocket(tlsOptions: tls.ConnectionOptions | undefined): net.Socket {
    const { host, port, bindAddress, unixPath, noDelay } = this.options;
    const tcp = unixPath !== undefined ? net.connect({ path: unixPath }) : net.connect({ host, port, localAddress: bindAddress });
    if (noDelay) tcp.setNoDelay(true);
    tcp.once('connect', () => { this.#tcpConnected = true; });
    // `host` is what the certificate is checked against; over an existing socket Node assumes localhost.
    const socket = tlsOptions ? tls.connect({ ...tlsOptions, socket: tcp, host }) : tcp;
    this.#socketReady = false;
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => { this.#socketReady = true; });
    this.#socket = socket;
    return socket;
  }

  #watchPackets(): void {
    const trace = this.trace;
    this.client.on('packetsend', (packet: Packet) => {
      // libmosquitto numbers QoS 0 publishes as well; MQTT.js leaves them without an id.
      const mid = packet.cmd === 'publish' && packet.qos === 0 ? this.ids.next() : undefined;
      if (!trace) return;
      const socket = this.#socket;
      if (packet.cmd === 'connect' && socket && !this.#socketReady) {
        // Only say "sending CONNECT" once the socket is up, as mosquitto does.
        socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => trace.sent(packet));
        return;
      }
      trace.sent(packet, mid);
    });
    this.client.on('packetreceive', (packet: Packet) => {
      if (packet.cmd === 'connack' && packet.properties?.assignedClientIdentifier && trace) {
        trace.clientName = packet.properties.assignedClientIdentifier;
      }
      trace?.received(packet);
    });
  }

  /** Publishes and resolves once the broker acknowledged it (QoS 1/2) or it was written (QoS 0). */
  publish(topic: string, payload: Buffer, publishOptions: IClientPublishOptions): Promise<PublishResult> {
    return new Promise((resolve) => {
      this.client.publish(topic, payload, publishOptions, (error, packet) => {
        const messageId = packet && 'messageId' in packet ? packet.messageId : undefined;
        resolve(error ? { error, messageId } : {});
      });
    });
  }

  /** Sends DISCONNECT (v5: with -D disconnect properties and `reasonCode`) and closes. */
  end(reasonCode?: number): Promise<void> {
    this.#ending = true;
    clearTimeout(this.#retry);
    const v5 = this.options.protocolVersion === 5;
    const disconnect: Partial<IDisconnectPacket> = v5
      ? { reasonCode: reasonCode ?? 0, properties: disconnectProperties(this.options.properties.disconnect) }
      : {};
    return new Promise((resolve) => {
      // Unacknowledged QoS 1/2 messages would hold end() open forever on a dead broker.
      const force = setTimeout(() => this.client.end(true, () => resolve()), 5000);
      this.client.end(false, disconnect, () => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Drops the connection without a DISCONNECT (the will is published). */
  destroy(): void {
    this.#ending = true;
    clearTimeout(this.#retry);
    this.client.end(true);
  }
}

function isTlsError(error: Error & { code?: string | number }): boolean {
  const code = String(error.code ?? '');
  return /^ERR_(SSL|TLS)_|CERT|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO/.test(code) || /TLS|SSL|certificate/i.test(error.message);
}
