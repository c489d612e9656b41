// Each bridge's state and counters for operators: Culex-only $SYS topics next to Mosquitto's
// notification topic, and Prometheus samples labelled with the bridge's name.

import type { BridgeStatus } from './bridge.js';

/** $SYS/broker/bridges/<name>/… topic and payload pairs (published when they change). */
export function bridgeSysTopics(statuses: readonly BridgeStatus[]): Array<readonly [string, string]> {
  const topics: Array<readonly [string, string]> = [];
  for (const s of statuses) {
    const base = `$SYS/broker/bridges/${s.name}`;
    topics.push(
      [`${base}/state`, s.state],
      [`${base}/address`, s.address],
      [`${base}/connects`, String(s.counters.connects)],
      [`${base}/failures`, String(s.counters.failures)],
      [`${base}/messages/sent`, String(s.counters.messagesSent)],
      [`${base}/messages/received`, String(s.counters.messagesReceived)],
      [`${base}/messages/dropped`, String(s.counters.dropped)],
      [`${base}/messages/queued`, String(s.queued)],
    );
  }
  return topics;
}

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus exposition text for the bridges; empty without bridges. */
export function bridgeMetrics(statuses: readonly BridgeStatus[]): string {
  if (statuses.length === 0) return '';
  const families: Array<[string, 'gauge' | 'counter', string, (s: BridgeStatus) => number]> = [
    ['culex_bridge_connected', 'gauge', 'Whether the bridge is connected to its remote (1) or not (0).', (s) => (s.state === 'connected' ? 1 : 0)],
    ['culex_bridge_connects_total', 'counter', 'Connections the remote accepted.', (s) => s.counters.connects],
    ['culex_bridge_failures_total', 'counter', 'Failed connection attempts and lost connections.', (s) => s.counters.failures],
    ['culex_bridge_messages_sent_total', 'counter', 'Messages sent to the remote (acknowledged, for QoS 1/2).', (s) => s.counters.messagesSent],
    ['culex_bridge_messages_received_total', 'counter', 'Messages received from the remote.', (s) => s.counters.messagesReceived],
    ['culex_bridge_messages_dropped_total', 'counter', 'Messages too large for the remote.', (s) => s.counters.dropped],
    ['culex_bridge_messages_queued', 'gauge', 'QoS 1/2 messages waiting in the bridge session.', (s) => s.queued],
  ];
  let text = '';
  for (const [name, type, help, value] of families) {
    text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    for (const s of statuses) text += `${name}{bridge="${escapeLabel(s.name)}"} ${value(s)}\n`;
  }
  return text;
}
