// Output formatting of culex sub / rr in isolation: -v/-N/default, the -F language (flags, widths,
// escapes, strftime), and the JSON of %j/%J laid out as mosquitto_sub's cJSON lays it out.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatG, formatJsonNumber, parseJson, printJson } from '../../src/cli/json-output.js';
import { strftime } from '../../src/cli/strftime.js';
import { compileFormat, formatMessage, type CompiledFormat, type ReceivedMessage } from '../../src/cli/sub-format.js';

process.env.TZ = 'UTC'; // strftime output below is for UTC

const at = new Date(Date.UTC(2026, 10, 25, 7, 5, 9, 123)); // Wednesday 25 November 2026, day 329

function message(overrides: Partial<ReceivedMessage> = {}): ReceivedMessage {
  return { topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, mid: 0, properties: undefined, time: at, nanos: 123_456_789, ...overrides };
}

function format(spec: string): CompiledFormat {
  const compiled = compileFormat(spec);
  assert.notEqual(typeof compiled, 'string', String(compiled));
  return compiled as CompiledFormat;
}

function render(spec: string | undefined, msg = message(), extra: { verbose?: boolean; eol?: boolean; pretty?: boolean } = {}): string {
  const warnings: string[] = [];
  const out = formatMessage(msg, { format: spec === undefined ? undefined : format(spec), verbose: false, eol: true, pretty: false, ...extra }, (w) => warnings.push(w));
  return out.toString('latin1') + (warnings.length ? `[warn:${warnings.join('')}]` : '');
}

describe('plain output', () => {
  test('the default is the payload and a newline; an empty payload prints nothing at all', () => {
    assert.equal(render(undefined), 'hello\n');
    assert.equal(render(undefined, message({ payload: Buffer.alloc(0) })), '');
  });

  test('-v prints "topic payload", and "topic (null)" for an empty payload', () => {
    assert.equal(render(undefined, message(), { verbose: true }), 'a/b hello\n');
    assert.equal(render(undefined, message({ payload: Buffer.alloc(0) }), { verbose: true }), 'a/b (null)\n');
  });

  test('-N leaves the newline out (and -v -N prints nothing for an empty payload)', () => {
    assert.equal(render(undefined, message(), { eol: false }), 'hello');
    assert.equal(render(undefined, message({ payload: Buffer.alloc(0) }), { verbose: true, eol: false }), '');
  });
});

describe('-F format', () => {
  test('invalid formats are refused with mosquitto_sub\'s messages', () => {
    assert.equal(compileFormat('%'), 'Error: Incomplete format specifier.\n');
    assert.equal(compileFormat('%-5'), 'Error: Incomplete format specifier.\n');
    assert.equal(compileFormat('@'), 'Error: Incomplete format specifier.\n');
    assert.equal(compileFormat('%Z'), "Error: Invalid format specifier 'Z'.\n");
    assert.equal(compileFormat('\\'), 'Error: Incomplete escape specifier.\n');
    assert.equal(compileFormat('\\q'), "Error: Invalid escape specifier 'q'.\n");
  });

  test('topic, payload, length, QoS, retain and mid, with printf widths, - and 0 flags and precision', () => {
    const msg = message({ qos: 1, retain: true, mid: 42 });
    assert.equal(render('%t|%p|%l|%q|%r|%m', msg), 'a/b|hello|5|1|1|42\n');
    assert.equal(render('[%6t][%-6t][%.1t][%04l][%-4m][%3p][%-7p][%07p]', msg), '[   a/b][a/b   ][a][0005][42  ][hel][hello  ][00hello]\n');
  });

  test('hex with a width shows half as many bytes as fit, as mosquitto_sub does', () => {
    assert.equal(render('%x|%X|[%4x]|[%10x]|[%-10x]', message({ payload: Buffer.from([0xde, 0xad, 0xbe]) })), 'deadbe|DEADBE|[  de]|[        de]|[de        ]\n');
  });

  test('v5 properties: %C %R %D %E %F %P %S, blanks of the field width when absent', () => {
    const msg = message({
      properties: {
        contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from('cid'), messageExpiryInterval: 30,
        payloadFormatIndicator: true, userProperties: { a: '1', b: ['2', '3'] }, subscriptionIdentifier: [4, 5],
      },
    });
    assert.equal(render('%C|%R|%D|%E|%F|%P|%S', msg), 'text/plain|r/t|cid|30|1|a:1 b:2 b:3|4\n');
    assert.equal(render('[%5C][%R][%D][%3E][%03F][%P][%2S][%A]'), '[     ][][][   ][000][][  ][]\n');
  });

  test('escapes, @@, %% and strftime @ conversions with @N nanoseconds', () => {
    assert.equal(render('\\t\\\\\\e\\a\\v\\0|@@|%%'), '\t\\\x1b\x07\x0b\0|@|%\n');
    assert.equal(render('@Y-@m-@d @H:@M:@S.@N @z @a @b @j @s'), '2026-11-25 07:05:09.123456789 +0000 Wed Nov 329 1795590309\n');
    assert.equal(render('%I|%U'), '2026-11-25T07:05:09+0000|1795590309.123456789\n');
  });
});

describe('%j and %J', () => {
  test('%j: keys in mosquitto\'s order, mid only above QoS 0, payload escaped as cJSON escapes it', () => {
    const msg = message({ topic: 't', payload: Buffer.from('q"b\\\n\x01'), qos: 1, mid: 7, properties: { userProperties: { k: 'v' }, contentType: 'c' } });
    assert.equal(
      render('%j', msg),
      '{"tst":"2026-11-25T07:05:09.123456Z+0000","topic":"t","qos":1,"retain":0,"payloadlen":6,"mid":7,'
        + '"properties":{"user-properties":{"k":"v"},"content-type":"c"},"payload":"q\\"b\\\\\\n\\u0001"}\n',
    );
    assert.equal(render('%j', message({ payload: Buffer.alloc(0) })), '{"tst":"2026-11-25T07:05:09.123456Z+0000","topic":"a/b","qos":0,"retain":0,"payloadlen":0,"payload":null}\n');
  });

  test('%J re-prints a JSON payload compactly, and warns for a payload that is not JSON', () => {
    assert.equal(render('%J', message({ payload: Buffer.from(' { "b" : [1, 2.50, {}] , "a":"x" } ') })).replace(/"tst":"[^"]*",/, ''),
      '{"topic":"a/b","qos":0,"retain":0,"payloadlen":35,"payload":{"b":[1,2.5,{}],"a":"x"}}\n');
    assert.equal(render('<%J>'), '<>\n[warn:Error: Message payload is not valid JSON on topic a/b.\n]');
  });

  test('--pretty uses cJSON\'s layout: tabs, ":\\t", arrays on one line', () => {
    const node = parseJson('{"a":[1,{"b":{}}],"c":{}}');
    assert.ok(node);
    assert.equal(printJson(node, true).toString(), '{\n\t"a":\t[1, {\n\t\t\t"b":\t{\n\t\t\t}\n\t\t}],\n\t"c":\t{\n\t}\n}');
  });

  test('numbers print as C\'s %1.15g (or %1.17g when needed to read back the same)', () => {
    assert.deepEqual([1, -300000, 1e300, 0.1, -0, 12345678901, 1.5e-7, 1 / 3, 100].map(formatJsonNumber),
      ['1', '-300000', '1e+300', '0.1', '-0', '12345678901', '1.5e-07', '0.33333333333333331', '100']);
    assert.equal(formatG(123456, 3), '1.23e+05');
  });

  test('the parser keeps key order and duplicate keys, and refuses trailing garbage', () => {
    const node = parseJson('{"2":1,"1":2,"2":3}');
    assert.ok(node);
    assert.equal(printJson(node, false).toString(), '{"2":1,"1":2,"2":3}');
    assert.equal(parseJson('{"a":1} x'), undefined);
    assert.equal(parseJson('[1,]'), undefined);
  });
});

describe('strftime', () => {
  test('C-locale conversions for the date parts', () => {
    assert.equal(strftime('%A %B %e %C %y %D %F %T %R %r %p %u %w', at), 'Wednesday November 25 20 26 11/25/26 2026-11-25 07:05:09 07:05 07:05:09 AM AM 3 3');
    assert.equal(strftime('%U %W %V %G %g %j %k %l %c', new Date(Date.UTC(2027, 0, 1, 15))), '00 00 53 2026 26 001 15  3 Fri Jan  1 15:00:00 2027');
  });
});
