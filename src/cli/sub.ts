// `culex sub`: subscribe and print each message (-v, -N, -F, -C, -E, -R, -T, --retained-only,
// --remove-retained, -W), with mosquitto_sub's flags, output and exit codes.

import type { IClientSubscribeOptions } from 'mqtt';
import type { ISubackPacket } from 'mqtt-packet';
import { parseClientArgs } from './client-args.js';
import type { ClientOptions } from './client-options.js';
import { ClientConnection } from './client-connect.js';
import { connectionErrorLine } from './client-messages.js';
import { subscribeProperties, unsubscribeProperties } from './client-properties.js';
import { ClientRun, receivedMessage } from './client-run.js';
import { reportUnrunnable } from './client-usage.js';
import { formatMessage, type OutputOptions, type ReceivedMessage } from './sub-format.js';
import { processStreams, Terminal, type CliStreams } from './terminal.js';
import { topicMatchesFilter } from './topic-filter.js';

export async function main(argv: string[]): Promise<number> {
  return runSub(argv, processStreams);
}

export async function runSub(argv: readonly string[], streams: CliStreams): Promise<number> {
  const parsed = parseClientArgs('sub', argv);
  const terminal = new Terminal(streams, parsed.kind === 'run' && parsed.options.quiet);
  try {
    if (parsed.kind !== 'run') return reportUnrunnable('sub', parsed, terminal);
    return await subscribeAndPrint(parsed.options, terminal);
  } finally {
    await terminal.flush();
  }
}

/** Subscription options from the flags: -q, and in v5 --retain-as-published and -R (retain handling 2). */
export function subscriptionOptions(options: ClientOptions): IClientSubscribeOptions {
  const v5 = options.protocolVersion === 5;
  return {
    qos: options.qos,
    rap: v5 && options.retainAsPublished,
    rh: v5 && options.noRetained ? 2 : 0,
    properties: v5 ? subscribeProperties(options.properties.subscribe) : undefined,
  };
}

/** The SUBACK's granted QoS / reason codes. */
export function grantedCodes(packet: ISubackPacket | undefined): number[] {
  return (packet?.granted ?? []).map((grant) => (typeof grant === 'number' ? grant : Number((grant as { qos?: unknown }).qos ?? 0x80)));
}

async function subscribeAndPrint(options: ClientOptions, terminal: Terminal): Promise<number> {
  const connection = ClientConnection.open(options, terminal);
  if (typeof connection === 'number') return connection;
  const run = new ClientRun(connection, terminal, options.timeoutSeconds);
  const output: OutputOptions = { format: options.format, verbose: options.verbose, eol: options.eol, pretty: options.pretty };
  const warn = (text: string): void => terminal.error(text);
  let printed = 0;

  const handle = (message: ReceivedMessage): void => {
    if (run.finishing) return;
    if (options.retainedOnly && !message.retain) {
      run.finish(0);
      return;
    }
    if (message.retain && options.noRetained) return;
    if (options.filterOuts.some((filter) => topicMatchesFilter(filter, message.topic))) return;
    if (options.removeRetained && message.retain) {
      void connection.publish(message.topic, Buffer.alloc(0), { qos: 1, retain: true });
    }
    if (options.randomFilter >= 10000 || Math.random() * 10000 < options.randomFilter) {
      terminal.print(formatMessage(message, output, warn));
    }
    if (terminal.outputBroken) run.finish(0);
    if (options.messageCount > 0 && ++printed === options.messageCount) run.finish(0);
  };
  connection.client.on('message', (_topic, _payload, packet) => {
    // MQTT.js acknowledges right after this event; libmosquitto acknowledges first, then prints.
    const message = receivedMessage(packet);
    process.nextTick(() => handle(message));
  });
  terminal.onOutputBroken(() => run.finish(0));

  void connection.outcome.then((outcome) => {
    if (outcome.kind === 'failed') return run.abort(outcome.exitCode);
    if (outcome.kind === 'refused') {
      terminal.error(connectionErrorLine(options.protocolVersion, outcome.code));
      return run.abort(outcome.code);
    }
    run.markConnected();
    // Like libmosquitto's loop_forever, keep reconnecting if the broker goes away later.
    connection.client.options.reconnectPeriod = 1000;
    connection.client.subscribe([...options.topics], subscriptionOptions(options), (error, _granted, packet) => {
      if (!packet) {
        if (error) terminal.error(`Error: ${error.message}\n`);
        return run.finish(1);
      }
      const codes = grantedCodes(packet);
      if (options.debug && !options.quiet) terminal.print(`Subscribed (mid: ${packet.messageId}): ${codes.join(', ')}\n`);
      if (codes.every((code) => code >= 0x80)) {
        terminal.error('All subscription requests were denied.\n');
        run.finish(0);
      }
      if (options.exitAfterSubscribe) run.finish(0);
    });
    const unsubscribeOptions = options.protocolVersion === 5 ? { properties: unsubscribeProperties(options.properties.unsubscribe) } : {};
    for (const topic of options.unsubscribeTopics) connection.client.unsubscribe(topic, unsubscribeOptions);
  });
  return run.done;
}
