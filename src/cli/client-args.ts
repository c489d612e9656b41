// The flags of culex pub / sub / rr, parsed the way mosquitto_pub / _sub / _rr parse them
// (client_shared.c): same spellings, same order of checks, same error texts, into ClientOptions.

import { randomInt } from 'node:crypto';
import {
  atoi, checkPropertyLists, emptyPropertyLists, parseCInteger, parsePropertyArgs, type PropertyEntry,
} from './client-properties.js';
import type { ClientCommand, ClientOptions, ParseResult, QoS, TlsSettings } from './client-options.js';
import { compileFormat } from './sub-format.js';
import { isValidPublishTopic, isValidTopicFilter } from './topic-filter.js';

const UINT32_MAX = 0xffffffff;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface ParseState extends Omit<Mutable<ClientOptions>, 'tls' | 'will' | 'port' | 'clientId' | 'host' | 'topics' | 'filterOuts' | 'unsubscribeTopics'> {
  host?: string;
  port?: number;
  id?: string;
  idPrefix?: string;
  /** -1 = not given. */
  sessionExpiry: number;
  tls: Mutable<TlsSettings> & { useDefaultCAs: boolean };
  willTopic?: string;
  willPayload?: Buffer;
  willQos: QoS;
  willRetain: boolean;
  topics: string[];
  filterOuts: string[];
  unsubscribeTopics: string[];
}

function parseQos(value: string): QoS | undefined {
  const qos = atoi(value);
  return qos === 0 || qos === 1 || qos === 2 ? qos : undefined;
}

type Apply = (state: ParseState, value: string) => string | void;
interface FlagSpec {
  readonly names: readonly string[];
  /** The commands that know the flag; for the others it is an unknown option. */
  readonly only?: readonly ClientCommand[];
  /** Checked before the value is read, as mosquitto does for -i/-I and the message flags. */
  readonly before?: (state: ParseState) => string | void;
  /** Present for flags that take a value: the text printed when the value is missing. */
  readonly missing?: string;
  readonly apply: Apply;
}

const pubOnly: readonly ClientCommand[] = ['pub'];
const subOnly: readonly ClientCommand[] = ['sub'];
const notPub: readonly ClientCommand[] = ['sub', 'rr'];
const notSub: readonly ClientCommand[] = ['pub', 'rr'];
const oneMessageOnly = (s: ParseState): string | void =>
  s.source ? 'Error: Only one type of message can be sent at once.\n\n' : undefined;
const missing = (flag: string, what: string): string => `Error: ${flag} argument given but no ${what} specified.\n\n`;

function addTopic(s: ParseState, topic: string): string | void {
  if (s.command === 'sub') {
    if (!isValidTopicFilter(topic)) return `Error: Invalid subscription topic '${topic}', are all '+' and '#' wildcards correct?\n`;
    s.topics.push(topic);
  } else {
    if (!isValidPublishTopic(topic)) return `Error: Invalid publish topic '${topic}', does it contain '+' or '#'?\n`;
    s.topic = topic;
  }
}

/** -L mqtt(s)://[user[:password]@]host[:port]/topic */
function applyUrl(s: ParseState, url: string): string | void {
  const scheme = /^(mqtts?):\/\//i.exec(url);
  if (!scheme) return 'Error: unsupported URL scheme.\n\n';
  const secure = scheme[1]!.toLowerCase() === 'mqtts';
  s.port = secure ? 8883 : 1883;
  if (secure) s.tls.useDefaultCAs = true;
  let rest = url.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  if (slash === -1) return 'Error: Invalid URL for -L argument specified - topic missing.\n';
  const error = addTopic(s, rest.slice(slash + 1));
  if (error) return error;
  rest = rest.slice(0, slash);
  const at = rest.indexOf('@');
  if (at !== -1) {
    const credentials = rest.slice(0, at);
    const colon = credentials.indexOf(':');
    if (colon !== -1) s.password = credentials.slice(colon + 1);
    s.username = colon === -1 ? credentials : credentials.slice(0, colon);
    rest = rest.slice(at + 1);
  }
  const colon = rest.indexOf(':');
  s.host = colon === -1 ? rest : rest.slice(0, colon);
  if (colon !== -1) s.port = atoi(rest.slice(colon + 1));
}

const flags: readonly FlagSpec[] = [
  { names: ['-A'], missing: missing('-A', 'address'), apply: (s, v) => { s.bindAddress = v; } },
  { names: ['--cafile'], missing: missing('--cafile', 'file'), apply: (s, v) => { s.tls.cafile = v; } },
  { names: ['--capath'], missing: missing('--capath', 'directory'), apply: (s, v) => { s.tls.capath = v; } },
  { names: ['--cert'], missing: missing('--cert', 'file'), apply: (s, v) => { s.tls.certfile = v; } },
  { names: ['--ciphers'], missing: missing('--ciphers', 'ciphers'), apply: (s, v) => { s.tls.ciphers = v; } },
  {
    names: ['-C'], only: subOnly, missing: missing('-C', 'count'),
    apply: (s, v) => {
      s.messageCount = atoi(v);
      if (s.messageCount < 1) return `Error: Invalid message count "${s.messageCount}".\n\n`;
    },
  },
  { names: ['-c', '--disable-clean-session'], apply: (s) => { s.cleanSession = false; } },
  { names: ['-d', '--debug'], apply: (s) => { s.debug = true; } },
  {
    names: ['-e'], only: ['rr'], missing: missing('-e', 'response topic'),
    apply: (s, v) => {
      if (!isValidPublishTopic(v)) return `Error: Invalid response topic '${v}', does it contain '+' or '#'?\n`;
      s.responseTopic = v;
    },
  },
  { names: ['-E'], only: subOnly, apply: (s) => { s.exitAfterSubscribe = true; } },
  {
    names: ['-f', '--file'], only: notSub, before: oneMessageOnly, missing: missing('-f', 'file'),
    apply: (s, v) => { s.source = { kind: 'file', path: v }; },
  },
  {
    names: ['-F'], only: notPub, missing: missing('-F', 'format'),
    apply: (s, v) => {
      const format = compileFormat(v);
      if (typeof format === 'string') return format;
      s.format = format;
    },
  },
  { names: ['-h', '--host'], missing: missing('-h', 'host'), apply: (s, v) => { s.host = v; } },
  { names: ['--insecure'], apply: (s) => { s.tls.insecure = true; } },
  {
    names: ['-i', '--id'], missing: missing('-i', 'id'),
    before: (s) => (s.idPrefix !== undefined ? 'Error: -i and -I argument cannot be used together.\n\n' : undefined),
    apply: (s, v) => { s.id = v; },
  },
  {
    names: ['-I', '--id-prefix'], missing: missing('-I', 'id prefix'),
    before: (s) => (s.id !== undefined ? 'Error: -i and -I argument cannot be used together.\n\n' : undefined),
    apply: (s, v) => { s.idPrefix = v; },
  },
  {
    names: ['-k', '--keepalive'], missing: missing('-k', 'keepalive'),
    apply: (s, v) => {
      s.keepalive = atoi(v);
      if (s.keepalive < 5 || s.keepalive > 65535) return 'Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n';
    },
  },
  { names: ['--key'], missing: missing('--key', 'file'), apply: (s, v) => { s.tls.keyfile = v; } },
  { names: ['-L', '--url'], missing: missing('-L', 'URL'), apply: applyUrl },
  { names: ['-l', '--stdin-line'], only: pubOnly, before: oneMessageOnly, apply: (s) => { s.source = { kind: 'stdin-line' }; } },
  {
    names: ['-m', '--message'], only: notSub, before: oneMessageOnly, missing: missing('-m', 'message'),
    apply: (s, v) => { s.source = { kind: 'message', payload: Buffer.from(v, 'utf8') }; },
  },
  {
    names: ['-M'], missing: 'Error: -M argument given but max_inflight not specified.\n\n',
    apply: (s, v) => {
      s.maxInflight = atoi(v);
      if (s.maxInflight < 1) return 'Error: Maximum inflight messages must be greater than 0.\n\n';
    },
  },
  { names: ['--nodelay'], apply: (s) => { s.noDelay = true; } },
  { names: ['-n', '--null-message'], only: notSub, before: oneMessageOnly, apply: (s) => { s.source = { kind: 'null' }; } },
  { names: ['-N'], only: notPub, apply: (s) => { s.eol = false; } },
  {
    names: ['-p', '--port'], missing: missing('-p', 'port'),
    apply: (s, v) => {
      s.port = atoi(v);
      if (s.port < 0 || s.port > 65535) return `Error: Invalid port given: ${s.port}\n`;
    },
  },
  { names: ['--pretty'], only: notPub, apply: (s) => { s.pretty = true; } },
  { names: ['-P', '--pw'], missing: missing('-P', 'password'), apply: (s, v) => { s.password = v; } },
  {
    names: ['-q', '--qos'], missing: missing('-q', 'QoS'),
    apply: (s, v) => {
      const qos = parseQos(v);
      if (qos === undefined) return `Error: Invalid QoS given: ${atoi(v)}\n`;
      s.qos = qos;
    },
  },
  { names: ['--quiet'], apply: (s) => { s.quiet = true; } },
  { names: ['-r', '--retain'], only: pubOnly, apply: (s) => { s.retain = true; } },
  { names: ['-R'], only: notPub, apply: (s) => { s.noRetained = true; } },
  {
    names: ['--random-filter'], only: subOnly, missing: missing('--random-filter', 'chance'),
    apply: (s, v) => {
      s.randomFilter = Math.trunc(10 * (Number.parseFloat(v) || 0));
      if (s.randomFilter > 10000 || s.randomFilter < 1) return 'Error: --random-filter chance must be between 0.1-100.0\n\n';
    },
  },
  { names: ['--remove-retained'], only: subOnly, apply: (s) => { s.removeRetained = true; } },
  {
    names: ['--repeat'], only: pubOnly, missing: missing('--repeat', 'count'),
    apply: (s, v) => {
      s.repeatCount = atoi(v);
      if (s.repeatCount < 1) return 'Error: --repeat argument must be >0.\n\n';
    },
  },
  {
    names: ['--repeat-delay'], only: pubOnly, missing: missing('--repeat-delay', 'time'),
    apply: (s, v) => {
      const seconds = Number.parseFloat(v) || 0;
      if (seconds < 0) return 'Error: --repeat-delay argument must be >=0.0.\n\n';
      s.repeatDelayMs = seconds * 1000;
    },
  },
  { names: ['--retain-as-published'], only: notPub, apply: (s) => { s.retainAsPublished = true; } },
  { names: ['--retained-only'], only: subOnly, apply: (s) => { s.retainedOnly = true; } },
  { names: ['-s', '--stdin-file'], only: notSub, before: oneMessageOnly, apply: (s) => { s.source = { kind: 'stdin-file' }; } },
  { names: ['-t', '--topic'], missing: missing('-t', 'topic'), apply: addTopic },
  {
    names: ['-T', '--filter-out'], only: subOnly, missing: missing('-T', 'topic filter'),
    apply: (s, v) => {
      if (!isValidTopicFilter(v)) return `Error: Invalid filter topic '${v}', are all '+' and '#' wildcards correct?\n`;
      s.filterOuts.push(v);
    },
  },
  { names: ['--tls-alpn'], missing: missing('--tls-alpn', 'protocol'), apply: (s, v) => { s.tls.alpn = v; } },
  { names: ['--tls-use-os-certs'], apply: (s) => { s.tls.useDefaultCAs = true; } },
  { names: ['--tls-version'], missing: missing('--tls-version', 'version'), apply: (s, v) => { s.tls.version = v; } },
  {
    names: ['-U', '--unsubscribe'], only: subOnly, missing: missing('-U', 'unsubscribe topic'),
    apply: (s, v) => {
      if (!isValidTopicFilter(v)) return `Error: Invalid unsubscribe topic '${v}', are all '+' and '#' wildcards correct?\n`;
      s.unsubscribeTopics.push(v);
    },
  },
  { names: ['-u', '--username'], missing: missing('-u', 'username'), apply: (s, v) => { s.username = v; } },
  { names: ['--unix'], missing: missing('--unix', 'socket path'), apply: (s, v) => { s.unixPath = v; s.port = 0; } },
  {
    names: ['-V', '--protocol-version'], missing: missing('--protocol-version', 'version'),
    apply: (s, v) => {
      if (v === 'mqttv31' || v === '31') s.protocolVersion = 3;
      else if (v === 'mqttv311' || v === '311') s.protocolVersion = 4;
      else if (v === 'mqttv5' || v === '5') s.protocolVersion = 5;
      else return 'Error: Invalid protocol version argument given.\n\n';
    },
  },
  { names: ['-v', '--verbose'], only: notPub, apply: (s) => { s.verbose = true; } },
  {
    names: ['-W'], only: notPub, missing: missing('-W', 'timeout'),
    apply: (s, v) => {
      s.timeoutSeconds = atoi(v);
      if (s.timeoutSeconds < 1) return `Error: Invalid timeout "${s.timeoutSeconds}".\n\n`;
    },
  },
  { names: ['--will-payload'], missing: missing('--will-payload', 'will payload'), apply: (s, v) => { s.willPayload = Buffer.from(v, 'utf8'); } },
  {
    names: ['--will-qos'], missing: missing('--will-qos', 'will QoS'),
    apply: (s, v) => {
      const qos = parseQos(v);
      if (qos === undefined) return `Error: Invalid will QoS ${atoi(v)}.\n\n`;
      s.willQos = qos;
    },
  },
  { names: ['--will-retain'], apply: (s) => { s.willRetain = true; } },
  {
    names: ['--will-topic'], missing: missing('--will-topic', 'will topic'),
    apply: (s, v) => {
      if (!isValidPublishTopic(v)) return `Error: Invalid will topic '${v}', does it contain '+' or '#'?\n`;
      s.willTopic = v;
    },
  },
  {
    names: ['-x'], missing: missing('-x', 'session expiry interval'),
    apply: (s, v) => {
      const value = v === '∞' ? UINT32_MAX : parseCInteger(v);
      if (value === undefined) return 'Error: session-expiry-interval not a number.\n\n';
      if (value > UINT32_MAX || value < -1) return 'Error: session-expiry-interval out of range.\n\n';
      s.sessionExpiry = value === -1 ? UINT32_MAX : value;
    },
  },
];

const flagIndex = new Map<string, FlagSpec>(flags.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));

function initialState(command: ClientCommand): ParseState {
  return {
    command, noDelay: false, protocolVersion: command === 'rr' ? 5 : 4, keepalive: 60, cleanSession: true,
    sessionExpiry: -1, tls: { insecure: false, useDefaultCAs: false }, willQos: 0, willRetain: false,
    debug: false, quiet: false, maxInflight: 20, qos: 0, retain: false, topics: [], repeatCount: 1, repeatDelayMs: 0,
    verbose: false, eol: true, pretty: false, messageCount: command === 'rr' ? 1 : 0, exitAfterSubscribe: false,
    noRetained: false, retainedOnly: false, removeRetained: false, retainAsPublished: false, filterOuts: [],
    unsubscribeTopics: [], randomFilter: 10000, timeoutSeconds: 0, properties: emptyPropertyLists(),
  };
}

/** libmosquitto's id for v3.1 clients without -i: "mosq-" and 18 random alphanumerics. */
function randomMosqId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'mosq-';
  for (let i = 0; i < 18; i++) id += alphabet[randomInt(alphabet.length)];
  return id;
}

/** The checks client_config_load() and the clients' main() make once every flag is read. */
function finish(s: ParseState): ParseResult {
  const fail = (message: string, hint = true): ParseResult => ({ kind: 'error', message, hint });
  if (s.willPayload && !s.willTopic) return fail('Error: Will payload given, but no will topic given.\n');
  if (s.willRetain && !s.willTopic) return fail('Error: Will retain given, but no will topic given.\n');
  if (Boolean(s.tls.certfile) !== Boolean(s.tls.keyfile)) {
    return fail('Error: Both certfile and keyfile must be provided if one of them is set.\n');
  }
  if (s.protocolVersion === 5) {
    // -c without -x keeps the session forever [MQTT-3.1.2-23].
    if (!s.cleanSession && s.sessionExpiry === -1) s.sessionExpiry = UINT32_MAX;
    if (s.sessionExpiry > 0) {
      if (s.sessionExpiry === UINT32_MAX && (s.idPrefix !== undefined || s.id === undefined)) {
        return fail('Error: You must provide a client id if you are using an infinite session expiry interval.\n');
      }
      s.properties.connect.push({ name: 'session-expiry-interval', value: s.sessionExpiry } satisfies PropertyEntry);
    }
  } else if (!s.cleanSession && (s.idPrefix !== undefined || s.id === undefined)) {
    return fail('Error: You must provide a client id if you are using the -c option.\n');
  }
  if (s.command === 'sub' && s.topics.length === 0) return fail('Error: You must specify a topic to subscribe to.\n');
  const propertyError = checkPropertyLists(s.properties);
  if (propertyError) return fail(propertyError);

  if (s.command === 'sub' && s.noRetained && s.retainedOnly) {
    return fail("\nError: Combining '-R' and '--retained-only' makes no sense.\n", false);
  }
  if (s.command === 'pub' && (s.topic === undefined || !s.source)) {
    return { kind: 'error', message: 'Error: Both topic and message must be supplied.\n', hint: false, usage: true };
  }
  if (s.command === 'rr' && (s.topic === undefined || !s.source || s.responseTopic === undefined)) {
    return fail('Error: All of topic, message, and response topic must be supplied.\n');
  }
  const clientId = s.idPrefix !== undefined ? `${s.idPrefix}${process.pid}` : s.id ?? (s.protocolVersion === 3 ? randomMosqId() : '');
  if (clientId === '' && !s.cleanSession) return fail('Error: Invalid id.\n', false);

  const { tls } = s;
  // TLS as libmosquitto decides it: CA options, OS certificates, or port 8883 on its own.
  const useTls = Boolean(tls.cafile || tls.capath || tls.useDefaultCAs || s.port === 8883);
  const port = s.port ?? (tls.cafile || tls.capath ? 8883 : 1883);
  const { id: _id, idPrefix: _prefix, sessionExpiry: _expiry, willTopic, willPayload, willQos, willRetain, ...rest } = s;
  const options: ClientOptions = {
    ...rest,
    host: s.host ?? 'localhost',
    port,
    clientId,
    tls: useTls ? tls : undefined,
    will: willTopic !== undefined ? { topic: willTopic, payload: willPayload ?? Buffer.alloc(0), qos: willQos, retain: willRetain } : undefined,
  };
  return { kind: 'run', options };
}

/** Parses argv (without the program and command names). */
export function parseClientArgs(command: ClientCommand, argv: readonly string[]): ParseResult {
  const state = initialState(command);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help') return { kind: 'help' };
    if (arg === '--version') return { kind: 'version' };
    if (arg === '-D' || arg === '--property') {
      const result = parsePropertyArgs(argv.slice(i + 1), state.properties);
      if ('error' in result) return { kind: 'error', message: result.error, hint: true };
      state.protocolVersion = 5; // any -D means MQTT v5
      i += result.used;
      continue;
    }
    const spec = flagIndex.get(arg);
    if (!spec || (spec.only && !spec.only.includes(command))) {
      return { kind: 'error', message: `Error: Unknown option '${arg}'.\n`, hint: true };
    }
    let error = spec.before?.(state);
    if (!error && spec.missing !== undefined) {
      if (i === argv.length - 1) error = spec.missing;
      else error = spec.apply(state, argv[++i]!);
    } else if (!error) {
      error = spec.apply(state, '');
    }
    if (error) return { kind: 'error', message: error, hint: true };
  }
  return finish(state);
}
