// Reads a mosquitto.conf with Mosquitto 2.0's own grammar (src/conf.c, config__read_file_core):
// the option name ends at the first space, `#` starts a comment only as a line's first character,
// booleans are true/false/1/0, string options may not repeat, include_dir only from the main file.
// Every error names the file and line in Mosquitto's two-line shape. Options Mosquitto has but
// Culex does not are refused by name, never silently ignored (see docs/CONFIG.md).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { LogType } from '../broker/logger.js';
import type { ConfiguredLimits, CulexConfig, ListenerConfig, LogDestination, MetricsListenerConfig, SecurityConfig, SourceLocation } from './config.js';
import { mosquittoOnlyOptions } from './unsupported-options.js';
import { BridgeOptionsReader, bridgeOptionNames } from '../bridge/bridge-options.js';
import { parseClusterUrl } from '../cluster/cluster-url.js';
import { ConfigError, includeOrder, Line, Refusal } from './config-line.js';
import { applyLimitOption } from './limit-options.js';

export { ConfigError, includeOrder } from './config-line.js';

const logTypeNames: Readonly<Record<string, readonly LogType[]>> = {
  debug: ['debug'],
  error: ['error'],
  warning: ['warning'],
  notice: ['notice'],
  information: ['information'],
  subscribe: ['subscribe'],
  unsubscribe: ['unsubscribe'],
  websockets: [], // accepted; Culex has no separate websockets log type
  all: ['error', 'warning', 'notice', 'information', 'debug', 'subscribe', 'unsubscribe'],
  none: [],
};

type MutableListener = ListenerConfig;

function newListener(port: number, address: string | undefined, source: SourceLocation): MutableListener {
  return {
    port,
    address,
    protocol: 'mqtt',
    socketDomain: undefined,
    certfile: undefined,
    keyfile: undefined,
    cafile: undefined,
    capath: undefined,
    requireCertificate: false,
    useIdentityAsUsername: false,
    useSubjectAsUsername: false,
    tlsVersion: undefined,
    ciphers: undefined,
    maxConnections: -1,
    security: newSecurity(),
    source,
  };
}

function newSecurity(): SecurityConfig {
  return { allowAnonymous: undefined, passwordFile: undefined, aclFile: undefined, dynsecPlugin: false, dynsecFile: undefined };
}

/** `plugin PATH`: Culex implements Mosquitto's dynamic-security plugin itself and no other. */
function isDynsecPlugin(path: string): boolean {
  return path === 'dynamic-security' || basename(path) === 'mosquitto_dynamic_security.so';
}

/** Reader state: what the lines have set so far. */
class Reader {
  readonly listeners: MutableListener[] = [];
  defaultListener: MutableListener | undefined;
  current: MutableListener | undefined;
  /** The global security settings (per_listener_settings false). */
  readonly security: SecurityConfig = newSecurity();
  /** A security option has been read: per_listener_settings may no longer change. */
  private securitySeen = false;
  aclDenySubscribe = false;
  perListenerSettings = false;
  readonly limits: ConfiguredLimits = {};
  destinations: LogDestination[] | undefined;
  logTypes: Set<LogType> | undefined;
  logTimestamp = true;
  logTimestampFormat: string | undefined;
  connectionMessages = true;
  logFacility = 3; // LOG_DAEMON
  metricsListener: MetricsListenerConfig | undefined;
  pidFile: string | undefined;
  cluster: string | undefined;
  clusterNodeId: string | undefined;
  sysInterval = 10;
  persistence = false;
  persistenceLocation: string | undefined;
  persistenceFile: string | undefined;
  autosaveInterval = 1800;
  setTcpNodelay = false;
  user: string | undefined;
  readonly notices: string[] = [];
  readonly bridges = new BridgeOptionsReader(this.notices);
  /** String options already given, per scope, for the "Duplicate" rule. */
  private readonly seen = new Set<string>();

  constructor(readonly mainFile: string) {}

  /** The listener that listener options attach to: the latest `listener`, else the legacy default one. */
  listener(line: Line): MutableListener {
    if (this.current !== undefined) return this.current;
    this.defaultListener ??= newListener(1883, undefined, line.location);
    return this.defaultListener;
  }

  /** Where a security option goes: the current listener with per_listener_settings, else the global settings. */
  securityScope(line: Line): SecurityConfig {
    this.securitySeen = true;
    return this.perListenerSettings ? this.listener(line).security : this.security;
  }

  /** A string option that may be given once (per listener for listener options). */
  once(line: Line, scope: object | undefined = undefined): string {
    const key = `${scope === undefined ? 'global' : this.listeners.indexOf(scope as MutableListener)}:${line.option}`;
    if (this.seen.has(key)) line.fail(`Duplicate ${line.option} value in configuration.`);
    const value = line.string();
    this.seen.add(key);
    return value;
  }

  apply(line: Line, fromMainFile: boolean): void {
    const option = line.option;
    switch (option) {
      case 'include_dir':
        if (!fromMainFile) line.fail('include_dir is only allowed in the main configuration file.');
        this.includeDir(line);
        return;
      case 'listener': {
        const port = line.int(0, 65535);
        const address = line.token();
        if (port === 0) line.fail(address === undefined ? 'Invalid listener port (0).' : 'Unix socket listeners (listener 0 PATH) are not supported by Culex.');
        this.current = newListener(port, address, line.location);
        this.listeners.push(this.current);
        return;
      }
      case 'port': {
        const target = this.defaultListener ?? (this.defaultListener = newListener(1883, undefined, line.location));
        target.port = line.int(1, 65535);
        return;
      }
      case 'bind_address': {
        const target = this.defaultListener ?? (this.defaultListener = newListener(1883, undefined, line.location));
        if (target.address !== undefined) line.fail('Duplicate bind_address value in configuration.');
        target.address = line.string();
        return;
      }
      case 'protocol': {
        const value = line.requiredToken();
        if (value !== 'mqtt' && value !== 'websockets') line.fail(`Invalid protocol value (${value}).`);
        this.listener(line).protocol = value;
        return;
      }
      case 'socket_domain': {
        const value = line.requiredToken();
        if (value !== 'ipv4' && value !== 'ipv6') line.fail(`Invalid socket_domain value (${value}).`);
        this.listener(line).socketDomain = value;
        return;
      }
      case 'certfile':
      case 'keyfile':
      case 'cafile':
      case 'capath':
      case 'ciphers': {
        const target = this.listener(line);
        target[option] = this.once(line, target);
        return;
      }
      case 'require_certificate':
        this.listener(line).requireCertificate = line.bool();
        return;
      case 'use_identity_as_username':
        this.listener(line).useIdentityAsUsername = line.bool();
        return;
      case 'use_subject_as_username':
        this.listener(line).useSubjectAsUsername = line.bool();
        return;
      case 'tls_version': {
        const value = line.requiredToken();
        if (value !== 'tlsv1.3' && value !== 'tlsv1.2' && value !== 'tlsv1.1') line.fail(`Invalid tls_version value (${value}).`);
        this.listener(line).tlsVersion = value;
        return;
      }
      case 'max_connections':
        this.listener(line).maxConnections = line.int(-1, 2 ** 31 - 1);
        return;
      case 'http_dir':
        line.fail('http_dir (serving files over HTTP) is not supported by Culex.');
        return;
      case 'mount_point':
        line.fail('mount_point is not supported by Culex.');
        return;
      case 'allow_anonymous':
        this.securityScope(line).allowAnonymous = line.bool();
        return;
      case 'password_file': {
        const scope = this.securityScope(line);
        scope.passwordFile = this.once(line, this.perListenerSettings ? this.listener(line) : undefined);
        return;
      }
      case 'acl_file': {
        const scope = this.securityScope(line);
        scope.aclFile = this.once(line, this.perListenerSettings ? this.listener(line) : undefined);
        return;
      }
      case 'plugin':
      case 'auth_plugin': {
        const scope = this.securityScope(line);
        const path = line.string();
        if (!isDynsecPlugin(path)) line.fail(`plugin ${path} is not supported by Culex; only the dynamic-security plugin is (a path ending in mosquitto_dynamic_security.so, or "dynamic-security").`);
        if (scope.dynsecPlugin) line.fail('The dynamic-security plugin is already configured here.');
        scope.dynsecPlugin = true;
        return;
      }
      case 'plugin_opt_config_file':
      case 'auth_opt_config_file': {
        const scope = this.securityScope(line);
        if (!scope.dynsecPlugin) line.fail(`${option} given before any plugin line.`);
        if (scope.dynsecFile !== undefined) line.fail(`Duplicate ${option} value in configuration.`);
        scope.dynsecFile = line.string();
        return;
      }
      case 'acl_deny_subscribe':
        // Culex-only: Mosquitto 2.0 grants every SUBSCRIBE and filters per message (brokers.md §2b)
        this.aclDenySubscribe = line.bool();
        return;
      case 'per_listener_settings': {
        const value = line.bool();
        if (value && this.securitySeen) line.fail('per_listener_settings must be set before any other security settings.');
        this.perListenerSettings = value;
        return;
      }
      case 'log_dest':
        this.logDest(line);
        return;
      case 'log_type': {
        const value = line.requiredToken();
        const types = logTypeNames[value] ?? line.fail(`Invalid log_type value (${value}).`);
        this.logTypes ??= new Set();
        if (value === 'none') this.logTypes.clear();
        for (const type of types) this.logTypes.add(type);
        return;
      }
      case 'log_timestamp':
        this.logTimestamp = line.bool();
        return;
      case 'log_timestamp_format':
        this.logTimestampFormat = this.once(line);
        return;
      case 'connection_messages':
        this.connectionMessages = line.bool();
        return;
      case 'log_facility':
        // as Mosquitto: N selects LOG_LOCALN (facility 16 + N)
        this.logFacility = 16 + line.int(0, 7);
        return;
      case 'metrics_listener': {
        // Culex-only: metrics_listener PORT [ADDRESS], the HTTP /metrics and /healthz endpoint
        if (this.metricsListener !== undefined) line.fail('Duplicate metrics_listener value in configuration.');
        const port = line.int(1, 65535);
        const address = line.token() ?? '127.0.0.1';
        if (line.token() !== undefined) line.fail('metrics_listener takes a port and an optional address.');
        this.metricsListener = { port, address, source: line.location };
        return;
      }
      case 'pid_file':
        this.pidFile = this.once(line);
        return;
      case 'cluster': {
        const url = this.once(line);
        const parsed = parseClusterUrl(url);
        if (typeof parsed === 'string') return line.fail(`${parsed[0]!.toUpperCase()}${parsed.slice(1)}.`);
        this.cluster = url;
        return;
      }
      case 'cluster_node_id':
        this.clusterNodeId = this.once(line);
        return;
      case 'sys_interval':
        this.sysInterval = line.int(0, 65535);
        return;
      case 'persistence':
        this.persistence = line.bool();
        return;
      case 'persistence_location':
        this.persistenceLocation = this.once(line);
        return;
      case 'persistence_file':
        this.persistenceFile = this.once(line);
        return;
      case 'autosave_interval':
        this.autosaveInterval = line.int(0, 2 ** 31 - 1);
        // Mosquitto saves its whole database every autosave_interval seconds; Culex commits each
        // change within milliseconds, so there is no interval to set. Said, not silently ignored.
        this.notices.push(`autosave_interval (${line.location.file}:${line.location.line}) has no effect: Culex commits every change to its persistence file within one event-loop turn.`);
        return;
      case 'set_tcp_nodelay':
        this.setTcpNodelay = line.bool();
        return;
      case 'user':
        this.user = this.once(line);
        this.notices.push(`Culex does not drop privileges itself (user ${this.user} ignored); start it as the user it should run as.`);
        return;
    }
    if (applyLimitOption(line, this.limits, (limitLine) => this.once(limitLine))) return;
    if (bridgeOptionNames.has(option)) {
      this.bridges.apply(line);
      return;
    }
    if (mosquittoOnlyOptions.has(option) || option.startsWith('plugin_opt_') || option.startsWith('auth_opt_')) {
      line.fail(`The option "${option}" is not supported by Culex.`);
    }
    line.fail(`Unknown configuration variable "${option}".`);
  }

  private logDest(line: Line): void {
    const kind = line.requiredToken();
    let destination: LogDestination;
    if (kind === 'stdout' || kind === 'stderr' || kind === 'none' || kind === 'syslog' || kind === 'topic') destination = { kind };
    else if (kind === 'file') {
      const path = line.string();
      destination = { kind, path };
    } else if (kind === 'dlt') {
      return line.fail(`log_dest ${kind} is not supported by Culex.`);
    } else {
      return line.fail(`Invalid log_dest value (${kind}).`);
    }
    // As Mosquitto: the first log_dest replaces the default (stderr); later ones add to it.
    this.destinations ??= [];
    if (kind === 'none') this.destinations = [];
    else this.destinations.push(destination);
  }

  private includeDir(line: Line): void {
    const dir = line.string();
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return line.fail(`Unable to open include_dir '${dir}'.`);
    }
    const files = names
      .filter((name) => name.endsWith('.conf'))
      .sort(includeOrder)
      .map((name) => join(dir, name))
      .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile() === true);
    for (const file of files) {
      if (resolve(file) === resolve(this.mainFile)) line.fail(`The included directory ${dir} contains the main configuration file ${basename(this.mainFile)}.`);
    }
    for (const file of files) this.readFile(file, false);
  }

  /** Reads one file; errors carry this file's name and the line. */
  readFile(file: string, isMain: boolean): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigErrorSignal(new ConfigError(`Unable to open ${isMain ? 'config' : 'include_dir'} file ${file}.`));
    }
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (let index = 0; index < lines.length; index++) {
      const raw = lines[index]!.replace(/[\r\n]+$/, '');
      if (raw === '' || raw[0] === '#') continue;
      // strtok(buf, " "): leading spaces are skipped, the name ends at the first space (tabs are part of it)
      const match = /^ *([^ ]+)(.*)$/s.exec(raw);
      if (match === null) continue; // only spaces
      const location = { file, line: index + 1 };
      const line = new Line(match[1]!, match[2]!, location);
      try {
        this.apply(line, isMain);
      } catch (error) {
        if (error instanceof Refusal) throw new ConfigErrorSignal(new ConfigError(error.message, location));
        throw error;
      }
    }
  }

  result(): CulexConfig | ConfigError {
    const bridges = this.bridges.result();
    if (!Array.isArray(bridges)) return new ConfigError(bridges.message, bridges.location);
    const listeners: ListenerConfig[] = [...this.listeners];
    // The legacy default listener (port/bind_address, or listener options before any `listener` line).
    if (this.defaultListener !== undefined) listeners.unshift(this.defaultListener);
    const localOnly = listeners.length === 0;
    const scopes = this.perListenerSettings ? listeners.map((listener) => listener.security) : [this.security];
    if (scopes.some((scope) => scope.dynsecPlugin && scope.dynsecFile === undefined)) {
      this.notices.push('Warning: Dynamic security plugin has no plugin_opt_config_file defined. The plugin will not be activated.');
    }
    return {
      file: this.mainFile,
      listeners,
      localOnly,
      allowAnonymous: this.security.allowAnonymous ?? localOnly,
      passwordFile: this.security.passwordFile,
      aclFile: this.security.aclFile,
      aclDenySubscribe: this.aclDenySubscribe,
      perListenerSettings: this.perListenerSettings,
      dynsecFile: this.security.dynsecFile,
      limits: this.limits,
      log: {
        destinations: this.destinations ?? [{ kind: 'stderr' }],
        types: this.logTypes === undefined ? undefined : [...this.logTypes],
        timestamp: this.logTimestamp,
        timestampFormat: this.logTimestampFormat,
        connectionMessages: this.connectionMessages,
        facility: this.logFacility,
      },
      metricsListener: this.metricsListener,
      pidFile: this.pidFile,
      cluster: this.cluster,
      clusterNodeId: this.clusterNodeId,
      sysInterval: this.sysInterval,
      persistence: this.persistence,
      persistenceLocation: this.persistenceLocation,
      persistenceFile: this.persistenceFile,
      autosaveInterval: this.autosaveInterval,
      setTcpNodelay: this.setTcpNodelay,
      user: this.user,
      notices: this.notices,
      bridges,
    };
  }
}

/** Carries a ConfigError out of nested include_dir reads. */
class ConfigErrorSignal extends Error {
  constructor(readonly error: ConfigError) {
    super(error.message);
  }
}

/** Reads a mosquitto.conf (and its include_dir files): the checked configuration, or the first error. */
export function readMosquittoConf(file: string): CulexConfig | ConfigError {
  const reader = new Reader(file);
  try {
    reader.readFile(file, true);
  } catch (error) {
    if (error instanceof ConfigErrorSignal) return error.error;
    throw error;
  }
  const config = reader.result();
  if (config instanceof ConfigError) return config;
  return checkListeners(config) ?? config;
}

/** Rules that need a whole listener block, reported at its `listener` line. */
function checkListeners(config: CulexConfig): ConfigError | undefined {
  for (const listener of config.listeners) {
    if ((listener.certfile === undefined) !== (listener.keyfile === undefined)) {
      return new ConfigError('Both certfile and keyfile must be provided in order to enable TLS support.', listener.source);
    }
    const tls = listener.certfile !== undefined;
    if (!tls && (listener.requireCertificate || listener.useIdentityAsUsername || listener.useSubjectAsUsername)) {
      return new ConfigError('require_certificate, use_identity_as_username and use_subject_as_username need certfile and keyfile on the listener.', listener.source);
    }
    if ((listener.requireCertificate || listener.useIdentityAsUsername || listener.useSubjectAsUsername) && listener.cafile === undefined && listener.capath === undefined) {
      return new ConfigError('A listener that checks client certificates needs cafile or capath.', listener.source);
    }
  }
  return undefined;
}

/** The configuration Culex runs with when no file is given: Mosquitto 2's local-only mode. */
export function defaultConfig(): CulexConfig {
  return new Reader('(none)').result() as CulexConfig;
}
