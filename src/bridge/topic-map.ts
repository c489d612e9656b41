// A bridge `topic` line and Mosquitto's prefix remapping (bridge__add_topic, bridge__remap_topic_in,
// send__publish): the local side subscribes to local_prefix + pattern, the remote side to
// remote_prefix + pattern; a message going out loses the local prefix and gains the remote one, a
// message coming in the reverse. The pattern "" maps one local topic to one remote topic.

import type { QoS } from '../protocol/packets.js';
import { filterMatches } from '../auth/acl-match.js';

const topicMatches = (filter: string, topic: string): boolean => filterMatches(filter.split('/'), topic.split('/'));

export type BridgeDirection = 'in' | 'out' | 'both';

export interface BridgeTopic {
  /** The pattern as written; undefined for the empty pattern `""`. */
  readonly pattern: string | undefined;
  readonly direction: BridgeDirection;
  readonly qos: QoS;
  readonly localPrefix: string | undefined;
  readonly remotePrefix: string | undefined;
  /** The filter subscribed to on the local broker (direction out or both). */
  readonly localTopic: string;
  /** The filter subscribed to on the remote broker (direction in or both). */
  readonly remoteTopic: string;
}

/** The empty-prefix / empty-pattern marker of the config file. */
export const EMPTY_MARKER = '""';

/**
 * Builds a topic rule; a string error when the combination is invalid (mosquitto.conf(5)'s table:
 * the empty pattern needs both prefixes).
 */
export function makeBridgeTopic(pattern: string | undefined, direction: BridgeDirection, qos: QoS, localPrefix: string | undefined, remotePrefix: string | undefined): BridgeTopic | string {
  if (pattern === undefined && (localPrefix === undefined || remotePrefix === undefined)) return 'Invalid bridge remapping.';
  const local = localPrefix === undefined ? pattern! : `${localPrefix}${pattern ?? ''}`;
  const remote = remotePrefix === undefined ? pattern! : `${remotePrefix}${pattern ?? ''}`;
  return { pattern, direction, qos, localPrefix, remotePrefix, localTopic: local, remoteTopic: remote };
}

const sendsOut = (topic: BridgeTopic): boolean => topic.direction !== 'in';
const takesIn = (topic: BridgeTopic): boolean => topic.direction !== 'out';
const remaps = (topic: BridgeTopic): boolean => topic.localPrefix !== undefined || topic.remotePrefix !== undefined;

/** The remote topic of a local message: the first out rule with a prefix whose local filter matches remaps it. */
export function remoteTopicFor(topics: readonly BridgeTopic[], localTopic: string): string {
  for (const rule of topics) {
    if (!sendsOut(rule) || !remaps(rule) || !topicMatches(rule.localTopic, localTopic)) continue;
    let topic = localTopic;
    if (rule.localPrefix !== undefined && topic.startsWith(rule.localPrefix)) topic = topic.slice(rule.localPrefix.length);
    if (rule.remotePrefix !== undefined) topic = `${rule.remotePrefix}${topic}`;
    return topic;
  }
  return localTopic;
}

/** The local topic of a remote message, the reverse of remoteTopicFor. */
export function localTopicFor(topics: readonly BridgeTopic[], remoteTopic: string): string {
  for (const rule of topics) {
    if (!takesIn(rule) || !remaps(rule) || !topicMatches(rule.remoteTopic, remoteTopic)) continue;
    let topic = remoteTopic;
    if (rule.remotePrefix !== undefined && topic.startsWith(rule.remotePrefix)) topic = topic.slice(rule.remotePrefix.length);
    if (rule.localPrefix !== undefined) topic = `${rule.localPrefix}${topic}`;
    return topic;
  }
  return remoteTopic;
}

/** Rules whose messages the bridge takes from the local broker. */
export function outgoingRules(topics: readonly BridgeTopic[]): BridgeTopic[] {
  return topics.filter(sendsOut);
}

/** Rules whose messages the bridge takes from the remote broker. */
export function incomingRules(topics: readonly BridgeTopic[]): BridgeTopic[] {
  return topics.filter(takesIn);
}
