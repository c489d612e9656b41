// JSON the way mosquitto_sub prints it for `-F %j` / `%J`: cJSON's layout (tab indents with
// `--pretty`, ", " between array items), key order kept, duplicate keys kept, raw bytes passed through.

/** A JSON value; objects are entry lists because cJSON keeps key order and duplicates. */
export type JsonNode =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'string'; readonly bytes: Buffer }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] };

export const jsonNull: JsonNode = { kind: 'null' };
export const jsonNumber = (value: number): JsonNode => ({ kind: 'number', value });
export const jsonString = (value: string | Buffer): JsonNode => ({
  kind: 'string',
  bytes: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});
export const jsonObject = (entries: (readonly [string, JsonNode])[]): JsonNode => ({ kind: 'object', entries });

/** C's `%1.<precision>g`. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponential = value.toExponential(precision - 1);
  const exponent = Number(exponential.slice(exponential.indexOf('e') + 1));
  if (exponent < -4 || exponent >= precision) {
    const [mantissa, exp] = exponential.split('e') as [string, string];
    const trimmed = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    const expNumber = Number(exp);
    const expText = String(Math.abs(expNumber)).padStart(2, '0');
    return `${trimmed}e${expNumber < 0 ? '-' : '+'}${expText}`;
  }
  const fixed = value.toFixed(Math.max(0, precision - 1 - exponent));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** cJSON's print_number: %1.15g, or %1.17g when that does not read back as the same double. */
export function formatJsonNumber(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  const short = formatG(value, 15);
  return Number(short) === value ? short : formatG(value, 17);
}

/** cJSON's string escaping: quotes, backslash and control characters; other bytes go out raw. */
function escapeJsonString(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) continue;
    if (i > start) parts.push(bytes.subarray(start, i));
    start = i + 1;
    switch (b) {
      case 0x22: parts.push(Buffer.from('\\"')); break;
      case 0x5c: parts.push(Buffer.from('\\\\')); break;
      case 0x08: parts.push(Buffer.from('\\b')); break;
      case 0x0c: parts.push(Buffer.from('\\f')); break;
      case 0x0a: parts.push(Buffer.from('\\n')); break;
      case 0x0d: parts.push(Buffer.from('\\r')); break;
      case 0x09: parts.push(Buffer.from('\\t')); break;
      default: parts.push(Buffer.from(`\\u${b.toString(16).padStart(4, '0')}`));
    }
  }
  if (start < bytes.length) parts.push(bytes.subarray(start));
  return Buffer.concat([Buffer.from('"'), ...parts, Buffer.from('"')]);
}

/** Renders like cJSON_PrintUnformatted, or cJSON_Print when `pretty`. */
export function printJson(node: JsonNode, pretty: boolean): Buffer {
  const out: Buffer[] = [];
  const write = (text: string): void => {
    out.push(Buffer.from(text, 'utf8'));
  };
  const visit = (value: JsonNode, depth: number): void => {
    switch (value.kind) {
      case 'null': write('null'); return;
      case 'bool': write(value.value ? 'true' : 'false'); return;
      case 'number': write(formatJsonNumber(value.value)); return;
      case 'string': out.push(escapeJsonString(value.bytes)); return;
      case 'array': {
        write('[');
        value.items.forEach((item, i) => {
          if (i > 0) write(pretty ? ', ' : ',');
          visit(item, depth + 1);
        });
        write(']');
        return;
      }
      case 'object': {
        const inner = depth + 1;
        write(pretty ? '{\n' : '{');
        value.entries.forEach(([key, item], i) => {
          if (pretty) write('\t'.repeat(inner));
          out.push(escapeJsonString(Buffer.from(key, 'utf8')));
          write(pretty ? ':\t' : ':');
          visit(item, inner);
          if (i < value.entries.length - 1) write(',');
          if (pretty) write('\n');
        });
        if (pretty) write('\t'.repeat(inner - 1));
        write('}');
      }
    }
  };
  visit(node, 0);
  return Buffer.concat(out);
}

/** Parses a whole document, keeping key order and duplicates; undefined if it is not valid JSON. */
export function parseJson(text: string): JsonNode | undefined {
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };
  const fail = (): never => {
    throw new SyntaxError(`invalid JSON at ${pos}`);
  };
  const parseString = (): string => {
    const match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(pos));
    if (!match) return fail();
    pos += match[0].length;
    return JSON.parse(match[0]) as string;
  };
  const parseValue = (depth: number): JsonNode => {
    if (depth > 1000) fail(); // cJSON's nesting limit
    skipSpace();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const entries: [string, JsonNode][] = [];
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', entries };
      }
      for (;;) {
        skipSpace();
        const key = parseString();
        skipSpace();
        if (text[pos++] !== ':') fail();
        entries.push([key, parseValue(depth + 1)]);
        skipSpace();
        const next = text[pos++];
        if (next === '}') return { kind: 'object', entries };
        if (next !== ',') fail();
      }
    }
    if (ch === '[') {
      pos++;
      const items: JsonNode[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(parseValue(depth + 1));
        skipSpace();
        const next = text[pos++];
        if (next === ']') return { kind: 'array', items };
        if (next !== ',') fail();
      }
    }
    if (ch === '"') return jsonString(parseString());
    for (const [word, node] of [['true', { kind: 'bool', value: true }], ['false', { kind: 'bool', value: false }], ['null', jsonNull]] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return node;
      }
    }
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(pos));
    if (!number) return fail();
    pos += number[0].length;
    return jsonNumber(Number(number[0]));
  };
  try {
    const node = parseValue(0);
    skipSpace();
    return pos === text.length ? node : undefined;
  } catch {
    return undefined;
  }
}
