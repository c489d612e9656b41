// The broker-limit options of a mosquitto.conf (max_*, retain_available, auto_id_prefix, …), read
// into ConfiguredLimits. Ranges and error texts follow Mosquitto 2.0's conf.c; the Culex-only
// options are marked. Kept apart from mosquitto-conf.ts, which reads listeners, security and logs.

import type { ConfiguredLimits } from './config.js';
import type { Line } from './config-line.js';

/** Seconds per unit of persistent_client_expiration. */
const expiryUnits: Readonly<Record<string, number>> = { h: 3600, d: 86_400, w: 604_800, m: 2_592_000, y: 31_536_000 };

/**
 * Applies `line` to `limits` when it is a limit option; false when it is not one.
 * `once` reads a string option that may be given only once in the file.
 */
export function applyLimitOption(line: Line, limits: ConfiguredLimits, once: (line: Line) => string): boolean {
  switch (line.option) {
    case 'max_inflight_messages':
      limits.maxInflightMessages = line.int(0, 65535);
      return true;
    case 'receive_maximum':
      // Culex-only: the Receive Maximum advertised to v5 clients and enforced with 0x93. Mosquitto
      // advertises max_inflight_messages instead, tying it to the outgoing window.
      limits.receiveMaximum = line.int(1, 65535);
      return true;
    case 'max_queued_messages':
      limits.maxQueuedMessages = line.int(0, 2 ** 31 - 1);
      return true;
    case 'max_queued_bytes':
      limits.maxQueuedBytes = line.int(0, Number.MAX_SAFE_INTEGER);
      return true;
    case 'max_keepalive':
      limits.maxKeepalive = line.int(0, 65535);
      return true;
    case 'max_packet_size': {
      const value = line.int(0, 268_435_460);
      if (value > 0 && value < 20) line.fail(`Invalid max_packet_size value (${value}); it must be at least 20.`);
      if (value > 0) limits.maxPacketSize = value;
      return true;
    }
    case 'message_size_limit':
      limits.messageSizeLimit = line.int(0, 268_435_455);
      return true;
    case 'max_qos':
      limits.maxQos = line.int(0, 2) as 0 | 1 | 2;
      return true;
    case 'max_topic_alias':
      limits.maxTopicAlias = line.int(0, 65535);
      return true;
    case 'topic_alias_out':
      // Culex-only: send topic aliases to v5 clients that accept them (docs/MQTT5.md)
      limits.topicAliasOut = line.bool();
      return true;
    case 'max_topic_levels':
      // Culex-only: topic levels accepted in a topic or filter (0 = unlimited)
      limits.maxTopicLevels = line.int(0, 65535);
      return true;
    case 'max_subscriptions_per_client':
      // Culex-only: subscriptions one client may hold (0 = unlimited)
      limits.maxSubscriptionsPerClient = line.int(0, 2 ** 31 - 1);
      return true;
    case 'retain_available':
      limits.retainAvailable = line.bool();
      return true;
    case 'allow_zero_length_clientid':
      limits.allowZeroLengthClientId = line.bool();
      return true;
    case 'auto_id_prefix':
      limits.autoIdPrefix = once(line);
      return true;
    case 'persistent_client_expiration':
      limits.persistentClientExpiration = expiration(line);
      return true;
    default:
      return false;
  }
}

function expiration(line: Line): number {
  const token = line.requiredToken();
  const match = /^(\d+)([hdwmy]?)$/.exec(token);
  if (match === null) return line.fail(`Invalid persistent_client_expiration value (${token}).`);
  const seconds = Number(match[1]) * (match[2] === '' ? 1 : expiryUnits[match[2]!]!);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) return line.fail(`Invalid persistent_client_expiration value (${token}).`);
  return seconds;
}
