// `culex pub`: publish one message (-m, -f, -s, -n, optionally --repeat) or one per stdin line (-l),
// then disconnect; flags, output and exit codes as mosquitto_pub's.

import { readFile } from 'node:fs/promises';
import type { IClientPublishOptions } from 'mqtt';
import { parseClientArgs } from './client-args.js';
import type { ClientOptions } from './client-options.js';
import { ClientConnection } from './client-connect.js';
import { connectionErrorLine, MosquittoError, mosquittoStrerror, reasonString } from './client-messages.js';
import { publishProperties } from './client-properties.js';
import { reportUnrunnable } from './client-usage.js';
import { processStreams, Terminal, type CliStreams } from './terminal.js';

export async function main(argv: string[]): Promise<number> {
  return runPub(argv, processStreams);
}

export async function runPub(argv: readonly string[], streams: CliStreams): Promise<number> {
  const parsed = parseClientArgs('pub', argv);
  const terminal = new Terminal(streams, parsed.kind === 'run' && parsed.options.quiet);
  try {
    if (parsed.kind !== 'run') return reportUnrunnable('pub', parsed, terminal);
    return await publishAndExit(parsed.options, terminal);
  } finally {
    await terminal.flush();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Lines of stdin without their '\n' ('\r' is kept, as mosquitto_pub keeps it); a last unterminated line counts. */
async function* stdinLines(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of stream) {
    rest = Buffer.concat([rest, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)]);
    let newline: number;
    while ((newline = rest.indexOf(0x0a)) !== -1) {
      yield rest.subarray(0, newline);
      rest = rest.subarray(newline + 1);
    }
  }
  if (rest.length > 0) yield rest;
}

/** The payload of -m/-f/-s/-n, or undefined after printing why it could not be read. */
async function loadPayload(options: ClientOptions, terminal: Terminal): Promise<Buffer | undefined> {
  const source = options.source;
  switch (source?.kind) {
    case 'message': return source.payload;
    case 'null': return Buffer.alloc(0);
    case 'file':
      try {
        return await readFile(source.path);
      } catch {
        terminal.error(`Error: Unable to open file "${source.path}".\n`);
        terminal.error(`Error loading input file "${source.path}".\n`);
        return undefined;
      }
    case 'stdin-file':
      try {
        return await readAll(terminal.streams.stdin);
      } catch {
        terminal.error('Error loading input from stdin.\n');
        return undefined;
      }
    default:
      return Buffer.alloc(0);
  }
}

class Publisher {
  readonly #publishOptions: IClientPublishOptions;
  readonly #topicAlias: boolean;
  #first = true;

  constructor(private readonly connection: ClientConnection, private readonly options: ClientOptions, private readonly terminal: Terminal) {
    const properties = options.protocolVersion === 5 ? publishProperties(options.properties.publish) : undefined;
    this.#publishOptions = { qos: options.qos, retain: options.retain, properties };
    this.#topicAlias = properties?.topicAlias !== undefined;
  }

  /** Publishes one message and reports a refusal the way mosquitto_pub's publish callback does. */
  async send(payload: Buffer): Promise<void> {
    // With a topic alias the topic goes out once; later publishes carry only the alias.
    const topic = this.#topicAlias && !this.#first ? '' : this.options.topic ?? '';
    this.#first = false;
    const { error, messageId } = await this.connection.publish(topic, payload, this.#publishOptions);
    if (!error) return;
    if (typeof error.code === 'number' && error.code >= 0x80) {
      this.terminal.error(`Warning: Publish ${messageId ?? 0} failed: ${reasonString(error.code)}.\n`);
    } else {
      this.terminal.error(`Error: ${error.message}\n`);
    }
  }

  async sendRepeated(payload: Buffer): Promise<void> {
    for (let i = 0; i < this.options.repeatCount; i++) {
      await this.send(payload);
      if (i < this.options.repeatCount - 1 && this.options.repeatDelayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.options.repeatDelayMs));
      }
    }
  }

  /** -l: one message per line, at most -M unacknowledged at a time. */
  async sendLines(stdin: NodeJS.ReadableStream): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    for await (const line of stdinLines(stdin)) {
      while (inFlight.size >= this.options.maxInflight) await Promise.race(inFlight);
      const sending: Promise<void> = this.send(line).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    }
    await Promise.all(inFlight);
  }
}

async function publishAndExit(options: ClientOptions, terminal: Terminal): Promise<number> {
  const lineMode = options.source?.kind === 'stdin-line';
  const payload = lineMode ? Buffer.alloc(0) : await loadPayload(options, terminal);
  if (!payload) return 1;

  const connection = ClientConnection.open(options, terminal);
  if (typeof connection === 'number') return connection;
  const outcome = await connection.outcome;
  if (outcome.kind !== 'connected') {
    connection.destroy();
    if (outcome.kind === 'failed') return outcome.exitCode;
    const v5 = options.protocolVersion === 5;
    terminal.error(connectionErrorLine(options.protocolVersion, outcome.code));
    terminal.error(`Error: ${mosquittoStrerror(v5 ? MosquittoError.Protocol : MosquittoError.ConnectionRefused)}\n`);
    return outcome.code;
  }

  const publisher = new Publisher(connection, options, terminal);
  let work: Promise<void>;
  if (options.topic === '' && !options.properties.publish.some((entry) => entry.name === 'topic-alias')) {
    // mosquitto_publish() refuses an empty topic; mosquitto_pub reports it and still exits 0.
    terminal.error("Error: Invalid input. Does your topic contain '+' or '#'?\n");
    work = Promise.resolve();
  } else {
    work = lineMode ? publisher.sendLines(terminal.streams.stdin) : publisher.sendRepeated(payload);
  }
  const result = await Promise.race([work.then(() => 'done' as const), connection.lost.then(() => 'lost' as const)]);
  if (result === 'lost') {
    connection.destroy();
    stopReading(terminal.streams.stdin);
    terminal.error(`Error: ${mosquittoStrerror(MosquittoError.ConnectionLost)}\n`);
    return MosquittoError.ConnectionLost;
  }
  await connection.end();
  return 0;
}

/** Lets the process exit even though a -l loop is still waiting on stdin. */
function stopReading(stdin: NodeJS.ReadableStream): void {
  if ('destroy' in stdin && typeof stdin.destroy === 'function') stdin.destroy();
}
