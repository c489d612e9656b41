// Mosquitto 2.0's acl_file as an Authorizer: the exact grammar and evaluation of security_default.c
// @v2.0.22 (aclfile__parse, mosquitto_acl_check_default), documented in brokers.md §2b.

import { readFile } from 'node:fs/promises';
import type { Logger } from '../broker/logger.js';
import type { QoS } from '../protocol/packets.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { aclFilterProblem, filterCovers, filterMatches, filtersIntersect, unshared } from './acl-match.js';
import type { Authorizer, ClientIdentity } from './port.js';

const READ = 1;
const WRITE = 2;
const DENY = 0;
const accessWords: Readonly<Record<string, number>> = { read: READ, write: WRITE, readwrite: READ | WRITE, deny: DENY };

export interface AclRule {
  /** READ, WRITE, both, or 0 for deny. */
  readonly access: number;
  readonly filter: string;
  readonly levels: readonly string[];
  /** For patterns: whether the filter mentions %c / %u. */
  readonly usesClientId: boolean;
  readonly usesUsername: boolean;
}

export interface AclLists {
  /** topic lines before the first user line: clients without a username. */
  readonly anonymous: readonly AclRule[];
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  /** pattern lines, wherever they appear: every client. */
  readonly patterns: readonly AclRule[];
}

export interface AclFileOptions {
  /** Culex's acl_deny_subscribe: refuse (0x87) a filter the client could never read. Mosquitto allows every SUBSCRIBE. */
  readonly denySubscribe?: boolean;
  /** Where warnings go (a pattern without %c or %u); silent by default. */
  readonly logger?: Logger;
}

function rule(access: number, filter: string): AclRule {
  return { access, filter, levels: filter.split('/'), usesClientId: filter.includes('%c'), usesUsername: filter.includes('%u') };
}

/** Deny entries first, the rest in file order: Mosquitto moves denies to the front at load time. */
function denyFirst(rules: AclRule[]): AclRule[] {
  return [...rules.filter((r) => r.access === DENY), ...rules.filter((r) => r.access !== DENY)];
}

/** Parses an ACL file's text; throws an Error naming the file, line and reason on the first bad line. */
export function parseAclFile(text: string, path: string, logger?: Logger): AclLists {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  let current: AclRule[] = anonymous;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\s+$/, ''); // trailing whitespace, including \r
    // Only a '#' in the first column is a comment; an indented one falls through to "Invalid line".
    if (line.length === 0 || line.startsWith('#')) continue;
    const fail = (reason: string): never => {
      throw new Error(`Invalid line in acl_file "${path}" line ${i + 1}: ${line}. (${reason})`);
    };
    // strtok(" ") semantics: leading spaces are skipped, only spaces separate tokens.
    const body = line.replace(/^ +/, '');
    const space = body.indexOf(' ');
    const keyword = space < 0 ? body : body.slice(0, space);
    const rest = space < 0 ? '' : body.slice(space + 1).replace(/^ +/, '');
    if (keyword === 'user') {
      const username = rest.trim();
      if (username.length === 0) fail('missing username');
      let list = users.get(username);
      if (list === undefined) users.set(username, (list = []));
      current = list;
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') fail(`expected "topic", "pattern" or "user", found "${keyword}"`);
    if (rest.length === 0) fail(`empty ${keyword}`);
    const gap = rest.indexOf(' ');
    let access = READ | WRITE;
    let filter = rest;
    if (gap >= 0) {
      // Two or more tokens: the first is the access word, the rest of the line (trimmed) the filter.
      const word = rest.slice(0, gap);
      const value = accessWords[word];
      if (value === undefined || !Object.hasOwn(accessWords, word)) fail(`invalid access type "${word}" (expected read, write, readwrite or deny)`);
      access = value!;
      filter = rest.slice(gap + 1).trim();
    }
    const problem = aclFilterProblem(filter);
    if (problem !== undefined) fail(`invalid ACL topic "${filter}": ${problem}`);
    const entry = rule(access, filter);
    if (keyword === 'pattern') {
      if (!entry.usesClientId && !entry.usesUsername) {
        logger?.log('warning', `Warning: ACL pattern "${filter}" in "${path}" line ${i + 1} does not contain %c or %u.`);
      }
      patterns.push(entry);
    } else {
      current.push(entry);
    }
  }
  const sortedUsers = new Map<string, AclRule[]>();
  for (const [name, list] of users) sortedUsers.set(name, denyFirst(list));
  return { anonymous: denyFirst(anonymous), users: sortedUsers, patterns: denyFirst(patterns) };
}

/** Substitutes %c and %u in a pattern as Mosquitto does (plain text replacement, before splitting). */
function substitute(pattern: AclRule, clientId: string, username: string | undefined): string[] {
  let filter = pattern.filter;
  if (pattern.usesClientId) filter = filter.replaceAll('%c', clientId);
  if (pattern.usesUsername) filter = filter.replaceAll('%u', username ?? '');
  return filter.split('/');
}

function hasSpecialChars(value: string): boolean {
  return value.includes('+') || value.includes('#');
}

/** Cached canReceive decisions per client; each client's map is cleared when it fills up. */
const cacheLimit = 1024;

export class AclFile implements Authorizer {
  private lists: AclLists;
  private receiveCache = new WeakMap<ClientIdentity, Map<string, boolean>>();

  constructor(
    lists: AclLists,
    readonly path: string = '<acl>',
    private readonly options: AclFileOptions = {},
  ) {
    this.lists = lists;
  }

  static async load(path: string, options: AclFileOptions = {}): Promise<AclFile> {
    return new AclFile(parseAclFile(await readAclText(path), path, options.logger), path, options);
  }

  /** Re-reads the file (SIGHUP); on error the old rules stay in force and the error is thrown. */
  async reload(): Promise<void> {
    this.lists = parseAclFile(await readAclText(this.path), this.path, this.options.logger);
    this.receiveCache = new WeakMap();
  }

  canPublish(client: ClientIdentity, topic: string, _qos: QoS, _retain: boolean): boolean {
    return this.check(client, topic.split('/'), WRITE);
  }

  canReceive(client: ClientIdentity, topic: string): boolean {
    let decisions = this.receiveCache.get(client);
    if (decisions === undefined) this.receiveCache.set(client, (decisions = new Map()));
    const known = decisions.get(topic);
    if (known !== undefined) return known;
    const allowed = this.check(client, topic.split('/'), READ);
    if (decisions.size >= cacheLimit) decisions.clear();
    decisions.set(topic, allowed);
    return allowed;
  }

  canSubscribe(client: ClientIdentity, filter: string, qos: QoS): number {
    // Mosquitto 2.0 allows every SUBSCRIBE and filters per message; acl_deny_subscribe refuses up front.
    if (this.options.denySubscribe !== true) return qos;
    const target = unshared(filter);
    return this.couldRead(client, target.split('/')) ? qos : ReasonCode.NotAuthorized;
  }

  /** mosquitto_acl_check_default: own list (deny first), then patterns; first match decides; else denied. */
  private check(client: ClientIdentity, topic: readonly string[], access: number): boolean {
    const own = this.ownList(client);
    if (own !== undefined) {
      const dollar = topic[0]!.startsWith('$');
      for (const entry of own) {
        // In the own list a "$" topic is only matched by a filter that starts with "$" too.
        if (dollar && !entry.filter.startsWith('$')) continue;
        if (!filterMatches(entry.levels, topic)) continue;
        if (entry.access === DENY) return false;
        if ((entry.access & access) !== 0) return true;
      }
    }
    const patterns = this.lists.patterns;
    if (patterns.length === 0) return false;
    // CVE-2017-7650: ids containing wildcards could widen a pattern, so they get nothing from patterns.
    if (hasSpecialChars(client.clientId) || (client.username !== undefined && hasSpecialChars(client.username))) return false;
    for (const pattern of patterns) {
      if (pattern.usesUsername && client.username === undefined) continue;
      if (!filterMatches(substitute(pattern, client.clientId, client.username), topic)) continue;
      if (pattern.access === DENY) return false;
      if ((pattern.access & access) !== 0) return true;
    }
    return false;
  }

  /**
   * Whether some topic matching filter could be readable: a read grant in the own list or the patterns
   * shares a topic with it, and no deny in the own list covers it entirely. An approximation of the
   * per-message check, erring on the side of granting (delivery is still filtered per message).
   */
  private couldRead(client: ClientIdentity, filter: readonly string[]): boolean {
    const own = this.ownList(client) ?? [];
    const dollar = filter[0]!.startsWith('$');
    for (const entry of own) {
      if (dollar && !entry.filter.startsWith('$')) continue;
      if (entry.access === DENY && filterCovers(entry.levels, filter)) return false;
      if ((entry.access & READ) !== 0 && filtersIntersect(entry.levels, filter)) return true;
    }
    if (hasSpecialChars(client.clientId) || (client.username !== undefined && hasSpecialChars(client.username))) return false;
    for (const pattern of this.lists.patterns) {
      if (pattern.usesUsername && client.username === undefined) continue;
      const levels = substitute(pattern, client.clientId, client.username);
      if (pattern.access === DENY && filterCovers(levels, filter)) return false;
      if ((pattern.access & READ) !== 0 && filtersIntersect(levels, filter)) return true;
    }
    return false;
  }

  private ownList(client: ClientIdentity): readonly AclRule[] | undefined {
    return client.username === undefined ? this.lists.anonymous : this.lists.users.get(client.username);
  }
}

async function readAclText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (error as Error).message;
    throw new Error(`Unable to open acl_file "${path}": ${reason}.`);
  }
}
