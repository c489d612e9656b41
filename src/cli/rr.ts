// `culex rr`: request/response like mosquitto_rr — subscribe to the response topic (-e), publish the
// request (-t) with a Response Topic property (v5, the default), print the first response, exit.

import { readFile } from 'node:fs/promises';
import { parseClientArgs } from './client-args.js';
import type { ClientOptions } from './client-options.js';
import { ClientConnection } from './client-connect.js';
import { connectionErrorLine } from './client-messages.js';
import { publishProperties } from './client-properties.js';
import { ClientRun, receivedMessage } from './client-run.js';
import { reportUnrunnable } from './client-usage.js';
import { formatMessage } from './sub-format.js';
import { subscriptionOptions } from './sub.js';
import { processStreams, Terminal, type CliStreams } from './terminal.js';

export async function main(argv: string[]): Promise<number> {
  return runRr(argv, processStreams);
}

export async function runRr(argv: readonly string[], streams: CliStreams): Promise<number> {
  const parsed = parseClientArgs('rr', argv);
  const terminal = new Terminal(streams, parsed.kind === 'run' && parsed.options.quiet);
  try {
    if (parsed.kind !== 'run') return reportUnrunnable('rr', parsed, terminal);
    return await requestAndPrint(parsed.options, terminal);
  } finally {
    await terminal.flush();
  }
}

async function requestPayload(options: ClientOptions, terminal: Terminal): Promise<Buffer | undefined> {
  const source = options.source;
  try {
    if (source?.kind === 'message') return source.payload;
    if (source?.kind === 'file') return await readFile(source.path);
    if (source?.kind === 'stdin-file') {
      const chunks: Buffer[] = [];
      for await (const chunk of terminal.streams.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      return Buffer.concat(chunks);
    }
    return Buffer.alloc(0);
  } catch {
    terminal.error(source?.kind === 'file' ? `Error loading input file "${source.path}".\n` : 'Error loading input from stdin.\n');
    return undefined;
  }
}

async function requestAndPrint(options: ClientOptions, terminal: Terminal): Promise<number> {
  const payload = await requestPayload(options, terminal);
  if (!payload) return 1;
  const responseTopic = options.responseTopic ?? '';
  const connection = ClientConnection.open(options, terminal);
  if (typeof connection === 'number') return connection;
  const run = new ClientRun(connection, terminal, options.timeoutSeconds);
  const output = { format: options.format, verbose: options.verbose, eol: options.eol, pretty: options.pretty };

  connection.client.on('message', (_topic, _payload, packet) => {
    const message = receivedMessage(packet);
    process.nextTick(() => {
      if (run.finishing || (message.retain && options.noRetained)) return;
      terminal.print(formatMessage(message, output, (text) => terminal.error(text)));
      run.finish(0);
    });
  });

  void connection.outcome.then((outcome) => {
    if (outcome.kind === 'failed') return run.abort(outcome.exitCode);
    if (outcome.kind === 'refused') {
      // mosquitto_rr words every refusal with the v5 reason strings, even for v3.1.1.
      terminal.error(connectionErrorLine(options.protocolVersion, outcome.code, true));
      return run.abort(outcome.code);
    }
    run.markConnected();
    connection.client.subscribe(responseTopic, subscriptionOptions(options), (error, _granted, packet) => {
      if (!packet) {
        if (error) terminal.error(`Error: ${error.message}\n`);
        return run.finish(1);
      }
      // The request goes out only once the response subscription is in place.
      const v5 = options.protocolVersion === 5;
      const properties = v5 ? { ...publishProperties(options.properties.publish), responseTopic } : undefined;
      void connection.publish(options.topic ?? '', payload, { qos: options.qos, retain: false, properties });
    });
  });
  return run.done;
}
