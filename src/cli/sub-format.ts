// How `culex sub` and `culex rr` print a received message: the default payload line, `-v`, `-N`,
// and `-F` with mosquitto_sub's % parameters, @ strftime escapes and \ escapes (sub_client_output.c).

import type { IPublishPacket } from 'mqtt-packet';
import { jsonNull, jsonNumber, jsonObject, jsonString, parseJson, printJson, type JsonNode } from './json-output.js';
import { strftime, strftimeConversion } from './strftime.js';

export type PublishProperties = NonNullable<IPublishPacket['properties']>;

export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** Packet identifier; 0 for QoS 0, as libmosquitto reports it. */
  readonly mid: number;
  readonly properties: PublishProperties | undefined;
  /** Wall-clock receive time and its nanoseconds within the second (for @N, %U, tst). */
  readonly time: Date;
  readonly nanos: number;
}

export interface OutputOptions {
  readonly format: CompiledFormat | undefined;
  readonly verbose: boolean;
  readonly eol: boolean;
  readonly pretty: boolean;
}

interface PercentToken {
  readonly kind: 'percent';
  readonly conversion: string;
  readonly leftAlign: boolean;
  readonly pad: ' ' | '0';
  readonly width: number;
  /** -1 when no precision was given. */
  readonly precision: number;
}
type FormatToken =
  | { readonly kind: 'text'; readonly text: string }
  | PercentToken
  | { readonly kind: 'time'; readonly conversion: string };

export interface CompiledFormat {
  readonly tokens: readonly FormatToken[];
}

const percentConversions = new Set('%ACDEFIlmPpqRSrtjJUxX'.split(''));
const escapes: Readonly<Record<string, string>> = {
  '\\': '\\', '0': '\0', a: '\x07', e: '\x1b', n: '\n', r: '\r', t: '\t', v: '\x0b',
};

/** Validates and compiles a -F format; a string is the error mosquitto_sub prints (check_format). */
export function compileFormat(format: string): CompiledFormat | string {
  const tokens: FormatToken[] = [];
  let text = '';
  const flushText = (): void => {
    if (text) tokens.push({ kind: 'text', text });
    text = '';
  };
  const incomplete = 'Error: Incomplete format specifier.\n';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch === '%') {
      let j = i + 1;
      if (j >= format.length) return incomplete;
      let leftAlign = false;
      let pad: ' ' | '0' = ' ';
      if (format[j] === '-') { leftAlign = true; j++; }
      // "%-040p" passes too; the '0' is then ignored, as in mosquitto.
      if (format[j] === '0') { pad = '0'; j++; }
      let width = 0;
      while (j < format.length && /\d/.test(format[j]!)) width = width * 10 + Number(format[j++]);
      let precision = -1;
      if (format[j] === '.') {
        j++;
        precision = 0;
        while (j < format.length && /\d/.test(format[j]!)) precision = precision * 10 + Number(format[j++]);
      }
      if (j >= format.length) return incomplete;
      const conversion = format[j]!;
      if (!percentConversions.has(conversion)) return `Error: Invalid format specifier '${conversion}'.\n`;
      flushText();
      tokens.push({ kind: 'percent', conversion, leftAlign, pad, width, precision });
      i = j;
    } else if (ch === '@') {
      if (i === format.length - 1) return incomplete;
      i++;
      if (format[i] === '@') {
        text += '@';
      } else {
        flushText();
        tokens.push({ kind: 'time', conversion: format[i]! });
      }
    } else if (ch === '\\') {
      if (i === format.length - 1) return 'Error: Incomplete escape specifier.\n';
      i++;
      const escaped = escapes[format[i]!];
      if (escaped === undefined) return `Error: Invalid escape specifier '${format[i]}'.\n`;
      text += escaped;
    } else {
      text += ch;
    }
  }
  flushText();
  return { tokens };
}

function padText(value: string, token: PercentToken): string {
  const clipped = token.precision >= 0 ? value.slice(0, token.precision) : value;
  if (clipped.length >= token.width) return clipped;
  return token.leftAlign ? clipped.padEnd(token.width, ' ') : clipped.padStart(token.width, ' ');
}

/** printf's %d with mosquitto's flags: '-' left aligns, '0' zero pads after the sign. */
function formatInt(value: number, token: PercentToken): string {
  const text = String(value);
  if (token.width === 0 || text.length >= token.width) return text;
  if (token.leftAlign) return text.padEnd(token.width, ' ');
  if (token.pad === '0') {
    const sign = value < 0 ? '-' : '';
    return sign + String(Math.abs(value)).padStart(token.width - sign.length, '0');
  }
  return text.padStart(token.width, ' ');
}

/**
 * write_payload(): the width truncates, and for hex it halves the byte count even when the
 * payload already fits — a mosquitto quirk kept so output matches byte for byte.
 */
function formatPayload(payload: Buffer, token: PercentToken, hex: 0 | 1 | 2): Buffer {
  let length = payload.length;
  let padLength: number;
  if (token.width > 0) {
    if (length > token.width) length = token.width;
    if (hex > 0) {
      length = Math.floor(length / 2);
      padLength = token.width - length * 2;
    } else {
      padLength = token.width - length;
    }
  } else {
    padLength = -length;
  }
  const body = payload.subarray(0, length);
  const shown = hex === 0 ? body : Buffer.from(hex === 1 ? body.toString('hex') : body.toString('hex').toUpperCase());
  const padding = padLength > 0 ? padLength : 0;
  if (token.leftAlign) return Buffer.concat([shown, Buffer.from(' '.repeat(padding))]);
  return Buffer.concat([Buffer.from(token.pad.repeat(padding)), shown]);
}

function userPropertyPairs(properties: PublishProperties | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(properties?.userProperties ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, one]);
  }
  return pairs;
}

function firstSubscriptionId(properties: PublishProperties | undefined): number | undefined {
  const ids = properties?.subscriptionIdentifier;
  return Array.isArray(ids) ? ids[0] : ids;
}

/** The `tst` field: local time with microseconds, then "Z" and the offset, exactly as mosquitto writes it. */
function jsonTimestamp(message: ReceivedMessage): string {
  const micros = String(Math.floor(message.nanos / 1000)).padStart(6, '0');
  return `${strftime('%Y-%m-%dT%H:%M:%S', message.time)}.${micros}Z${strftime('%z', message.time)}`;
}

/** The "properties" object of %j/%J (json_print_properties), in the order the packet carried them. */
function propertiesJson(properties: PublishProperties): JsonNode {
  const entries: [string, JsonNode][] = [];
  for (const [key, value] of Object.entries(properties)) {
    switch (key) {
      case 'payloadFormatIndicator': entries.push(['payload-format-indicator', jsonNumber(Number(value))]); break;
      case 'messageExpiryInterval': entries.push(['message-expiry-interval', jsonNumber(Number(value))]); break;
      case 'contentType': entries.push(['content-type', jsonString(String(value))]); break;
      case 'responseTopic': entries.push(['response-topic', jsonString(String(value))]); break;
      case 'correlationData': entries.push(['correlation-data', jsonString(cString(Buffer.from(value as Buffer)))]); break;
      case 'topicAlias': entries.push(['topic-alias', jsonNumber(Number(value))]); break;
      case 'subscriptionIdentifier':
        for (const id of Array.isArray(value) ? value : [value]) entries.push(['subscription-identifier', jsonNumber(Number(id))]);
        break;
      case 'userProperties':
        entries.push(['user-properties', jsonObject(userPropertyPairs(properties).map(([k, v]) => [k, jsonString(v)]))]);
        break;
    }
  }
  return jsonObject(entries);
}

/** cJSON builds strings from C strings, so a payload stops at its first NUL byte. */
function cString(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  return nul === -1 ? bytes : bytes.subarray(0, nul);
}

/** %j (escaped payload) or %J (payload is itself JSON); undefined when %J's payload is not JSON. */
export function messageJson(message: ReceivedMessage, payloadIsJson: boolean, pretty: boolean): Buffer | undefined {
  const entries: [string, JsonNode][] = [
    ['tst', jsonString(jsonTimestamp(message))],
    ['topic', jsonString(message.topic)],
    ['qos', jsonNumber(message.qos)],
    ['retain', jsonNumber(message.retain ? 1 : 0)],
    ['payloadlen', jsonNumber(message.payload.length)],
  ];
  if (message.qos > 0) entries.push(['mid', jsonNumber(message.mid)]);
  if (message.properties) entries.push(['properties', propertiesJson(message.properties)]);
  let payload: JsonNode;
  if (message.payload.length === 0) {
    payload = jsonNull;
  } else if (payloadIsJson) {
    const parsed = parseJson(message.payload.toString('utf8'));
    if (!parsed) return undefined;
    payload = parsed;
  } else {
    payload = jsonString(cString(message.payload));
  }
  entries.push(['payload', payload]);
  return printJson(jsonObject(entries), pretty);
}

function renderPercent(token: PercentToken, message: ReceivedMessage, options: OutputOptions, warn: (text: string) => void): Buffer | string {
  const props = message.properties;
  const blank = (): string => token.pad.repeat(token.width);
  const optionalInt = (value: number | boolean | undefined): string =>
    value === undefined ? blank() : formatInt(Number(value), token);
  switch (token.conversion) {
    case '%': return '%';
    case 'A': return optionalInt(props?.topicAlias);
    case 'C': return props?.contentType !== undefined ? padText(props.contentType, token) : ' '.repeat(token.width);
    case 'D': return props?.correlationData ? Buffer.from(props.correlationData) : '';
    case 'E': return optionalInt(props?.messageExpiryInterval);
    case 'F': return optionalInt(props?.payloadFormatIndicator);
    case 'I': return padText(strftime('%Y-%m-%dT%H:%M:%S%z', message.time), token);
    case 'j':
    case 'J': {
      const json = messageJson(message, token.conversion === 'J', options.pretty);
      if (!json) warn(`Error: Message payload is not valid JSON on topic ${message.topic}.\n`);
      return json ?? '';
    }
    case 'l': return formatInt(message.payload.length, token);
    case 'm': return formatInt(message.mid, token);
    case 'P': return userPropertyPairs(props).map(([k, v]) => `${k}:${v}`).join(' ');
    case 'p': return formatPayload(message.payload, token, 0);
    case 'q': return String(message.qos);
    case 'R': return props?.responseTopic !== undefined ? padText(props.responseTopic, token) : '';
    case 'r': return message.retain ? '1' : '0';
    case 'S': return optionalInt(firstSubscriptionId(props));
    case 't': return padText(message.topic, token);
    case 'U': return `${Math.floor(message.time.getTime() / 1000)}.${String(message.nanos).padStart(9, '0')}`;
    case 'x': return formatPayload(message.payload, token, 1);
    case 'X': return formatPayload(message.payload, token, 2);
    default: return '';
  }
}

/**
 * The bytes printed for one message, or an empty buffer when nothing is printed
 * (an empty payload prints nothing by default, `topic (null)` with -v).
 */
export function formatMessage(message: ReceivedMessage, options: OutputOptions, warn: (text: string) => void): Buffer {
  const eol = options.eol ? '\n' : '';
  if (options.format) {
    const parts: Buffer[] = [];
    for (const token of options.format.tokens) {
      let piece: Buffer | string;
      if (token.kind === 'text') piece = token.text;
      else if (token.kind === 'time') {
        piece = token.conversion === 'N' ? String(message.nanos).padStart(9, '0') : strftimeConversion(token.conversion, message.time);
      } else piece = renderPercent(token, message, options, warn);
      parts.push(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
    }
    if (eol) parts.push(Buffer.from(eol));
    return Buffer.concat(parts);
  }
  if (message.payload.length === 0) {
    return options.verbose && options.eol ? Buffer.from(`${message.topic} (null)\n`) : Buffer.alloc(0);
  }
  const head = options.verbose ? Buffer.from(`${message.topic} `) : Buffer.alloc(0);
  return Buffer.concat([head, message.payload, Buffer.from(eol)]);
}
