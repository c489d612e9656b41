// MQTT's UTF-8 Encoded String rules (MQTT 5.0 §1.5.4, 3.1.1 §1.5.3) for bytes read from the wire
// and for strings handed to us by the API.

/** Why a byte range is not an MQTT UTF-8 string. */
export const Utf8Fault = {
  /** Ill-formed UTF-8, including encoded surrogates U+D800..U+DFFF [MQTT-1.5.4-1]. */
  IllFormed: -1,
  /** An encoding of U+0000 [MQTT-1.5.4-2]. */
  NullCharacter: -2,
} as const;
export type Utf8Fault = (typeof Utf8Fault)[keyof typeof Utf8Fault];

/** Buffer methods Node has long had but @types/node does not declare; 15–20 % faster than toString/write. */
export interface FastBuffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number): number;
}

// fatal: ill-formed input (overlong forms, encoded surrogates, > U+10FFFF, truncated sequences) is an error.
// ignoreBOM: keep a leading 0xEF 0xBB 0xBF as U+FEFF; it must not be stripped [MQTT-1.5.4-3].
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes buf[start, end) as an MQTT UTF-8 string, or returns the fault.
 * Fast path: topic names and client ids are nearly always ASCII, so one scan for bytes >= 0x80 or == 0
 * lets ASCII strings go straight through latin1Slice (identical to UTF-8 for 0x01..0x7F).
 */
export function decodeMqttUtf8(buf: Buffer, start: number, end: number): string | Utf8Fault {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    // A 0x00 byte can only be U+0000 in UTF-8 (every byte of a multi-byte sequence is >= 0x80).
    if (byte === 0) return Utf8Fault.NullCharacter;
    if (byte >= 0x80) ascii = false;
  }
  if (ascii) return (buf as unknown as FastBuffer).latin1Slice(start, end);
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    return Utf8Fault.IllFormed;
  }
}

interface WellFormedString {
  isWellFormed(): boolean;
}

/**
 * True if a string from the API can be sent as an MQTT UTF-8 string: no lone surrogates
 * (they cannot be encoded as well-formed UTF-8 [MQTT-1.5.4-1]) and no U+0000 [MQTT-1.5.4-2].
 */
export function isValidUtf8String(s: string): boolean {
  // String.prototype.isWellFormed is in Node >= 20 (ES2024, not in our ES2022 lib typings).
  return (s as unknown as WellFormedString).isWellFormed() && s.indexOf('\u0000') === -1;
}
