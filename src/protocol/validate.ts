// Topic Name and Topic Filter rules (MQTT 5.0 §4.7, §4.8.2): used by the parser for PUBLISH topics and
// by the broker for SUBSCRIBE/UNSUBSCRIBE filters, which are answered per filter rather than rejected.

import { protocolError, type ProtocolError } from './errors.js';
import { ReasonCode } from './reason-codes.js';
import { isValidUtf8String } from './utf8.js';
import { MAX_FIELD_LENGTH } from './wire.js';

export { isValidUtf8String };

const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const SLASH = 0x2f; // '/'
const SHARE_PREFIX = '$share/';

/** True if the string contains '+' or '#'. */
export function hasWildcard(topic: string): boolean {
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}

/** True if the filter names a Shared Subscription ($share/{ShareName}/{filter}, §4.8.2). */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX);
}

/** Rules common to names and filters: length [MQTT-4.7.3-1], [MQTT-4.7.3-3], characters [MQTT-1.5.4-1], [MQTT-4.7.3-2]. */
function checkString(text: string, what: string, reasonCode: number): ProtocolError | undefined {
  if (text.length === 0) return protocolError(reasonCode, `${what} must be at least one character long`, 'MQTT-4.7.3-1');
  if (text.indexOf('\u0000') !== -1) return protocolError(reasonCode, `${what} must not contain U+0000`, 'MQTT-4.7.3-2');
  if (!isValidUtf8String(text)) {
    return protocolError(reasonCode, `${what} contains a lone surrogate and is not valid UTF-8`, 'MQTT-1.5.4-1');
  }
  // Cheap upper bound first: a UTF-16 code unit never takes more than 3 UTF-8 bytes.
  if (text.length * 3 > MAX_FIELD_LENGTH && Buffer.byteLength(text, 'utf8') > MAX_FIELD_LENGTH) {
    return protocolError(reasonCode, `${what} encodes to more than 65535 bytes`, 'MQTT-4.7.3-3');
  }
  return undefined;
}

/** A Topic Name as PUBLISH carries it: non-empty, no wildcards [MQTT-3.3.2-2], no U+0000. Reason 0x90. */
export function validateTopicName(topic: string): ProtocolError | undefined {
  const error = checkString(topic, 'Topic Name', ReasonCode.TopicNameInvalid);
  if (error !== undefined) return error;
  if (hasWildcard(topic)) {
    return protocolError(ReasonCode.TopicNameInvalid, `Topic Name "${topic}" contains a wildcard character`, 'MQTT-3.3.2-2');
  }
  return undefined;
}

/**
 * A Topic Filter as SUBSCRIBE and UNSUBSCRIBE carry it. '#' only as a whole last level [MQTT-4.7.1-2],
 * '+' only as a whole level [MQTT-4.7.1-3]; a shared filter needs a non-empty ShareName [MQTT-4.8.2-1]
 * without '/', '+' or '#', followed by '/' and a filter [MQTT-4.8.2-2]. Reason 0x8F.
 */
export function validateTopicFilter(filter: string): ProtocolError | undefined {
  const error = checkString(filter, 'Topic Filter', ReasonCode.TopicFilterInvalid);
  if (error !== undefined) return error;
  if (!isSharedFilter(filter)) return checkWildcards(filter);
  const groupEnd = filter.indexOf('/', SHARE_PREFIX.length);
  const group = filter.slice(SHARE_PREFIX.length, groupEnd === -1 ? filter.length : groupEnd);
  if (group.length === 0) {
    return protocolError(ReasonCode.TopicFilterInvalid, 'Shared Subscription needs a ShareName', 'MQTT-4.8.2-1');
  }
  if (hasWildcard(group)) {
    return protocolError(ReasonCode.TopicFilterInvalid, `ShareName "${group}" must not contain + or #`, 'MQTT-4.8.2-2');
  }
  if (groupEnd === -1 || groupEnd === filter.length - 1) {
    return protocolError(
      ReasonCode.TopicFilterInvalid,
      `Shared Subscription "${filter}" has no Topic Filter after the ShareName`,
      'MQTT-4.8.2-2',
    );
  }
  return checkWildcards(filter.slice(groupEnd + 1));
}

function checkWildcards(filter: string): ProtocolError | undefined {
  const last = filter.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = filter.charCodeAt(i);
    if (c !== PLUS && c !== HASH) continue;
    const wholeLevel = (i === 0 || filter.charCodeAt(i - 1) === SLASH) && (i === last || filter.charCodeAt(i + 1) === SLASH);
    if (c === HASH && (i !== last || !wholeLevel)) {
      return protocolError(
        ReasonCode.TopicFilterInvalid,
        `'#' must be the last character and occupy a whole level in "${filter}"`,
        'MQTT-4.7.1-2',
      );
    }
    if (c === PLUS && !wholeLevel) {
      return protocolError(ReasonCode.TopicFilterInvalid, `'+' must occupy a whole level in "${filter}"`, 'MQTT-4.7.1-3');
    }
  }
  return undefined;
}

export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Splits '$share/{ShareName}/{filter}' into its parts; undefined if the filter is not shaped like a
 * shared subscription. It does not check the parts: call validateTopicFilter first.
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!isSharedFilter(filter)) return undefined;
  const groupEnd = filter.indexOf('/', SHARE_PREFIX.length);
  if (groupEnd <= SHARE_PREFIX.length || groupEnd === filter.length - 1) return undefined;
  return { group: filter.slice(SHARE_PREFIX.length, groupEnd), filter: filter.slice(groupEnd + 1) };
}
