// The subscription index: (filter, key) → value, matched by topic name. A trie of topic levels
// with the wildcards as fields on each node (as NATS' Sublist keeps `pwc`/`fwc`), so a match
// walks only the branches the topic can reach, plus a bounded match cache in front of it.
// Filters are validated before they get here; this file only knows levels.

/** Default number of topics whose match results are cached (NATS' slCacheMax). */
const DEFAULT_CACHE_SIZE = 1024;
/**
 * Results longer than this are not cached: walking the trie is then cheap next to delivering to
 * that many subscribers, and caching them would let a full cache pin cacheSize × N references.
 */
const MAX_CACHED_RESULT = 1024;
/** Topics longer than this are not cached, so a full cache cannot pin 1024 × 64 KiB topic names. */
const MAX_CACHED_TOPIC_LENGTH = 1024;

const EMPTY: readonly never[] = Object.freeze([]);

/** One topic level of the trie. A class, so every node has the same shape for V8. */
class IndexNode<V> {
  /** Children by literal level name ('' is a real level: "a//b" has three). */
  literal: Map<string, IndexNode<V>> | undefined = undefined;
  /** The '+' child: matches any one level, including an empty one. */
  plus: IndexNode<V> | undefined = undefined;
  /** Entries whose filter ends at this level. */
  exact: Map<string, V> | undefined = undefined;
  /** Entries whose filter is this level's path followed by '/#' (or just '#' on the root). */
  hash: Map<string, V> | undefined = undefined;

  isEmpty(): boolean {
    return this.literal === undefined && this.plus === undefined && this.exact === undefined && this.hash === undefined;
  }
}

export interface TopicIndexOptions {
  /** Topics whose match results are cached; 0 disables the cache entirely. Default 1024. */
  readonly cacheSize?: number;
}

export interface MatchCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

export class TopicIndex<V> {
  private readonly root = new IndexNode<V>();
  private readonly cacheSize: number;
  /** When full, the cache is swept down to this many entries (NATS sweeps 1024 to 256). */
  private readonly cacheSweepTo: number;
  private readonly cache = new Map<string, readonly V[]>();
  private hits = 0;
  private misses = 0;
  private entryCount = 0;
  private distinctFilters = 0;
  /** The match walk's explicit stack, reused across calls: no recursion, and no stack allocated per match. */
  private readonly stackNodes: IndexNode<V>[] = [];
  private readonly stackDepths: number[] = [];

  constructor(options: TopicIndexOptions = {}) {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`cacheSize must be a non-negative integer, got ${cacheSize}`);
    }
    this.cacheSize = cacheSize;
    this.cacheSweepTo = Math.min(cacheSize >> 2, cacheSize - 1);
  }

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.entryCount;
  }

  /** Number of distinct filters with at least one entry. */
  get filterCount(): number {
    return this.distinctFilters;
  }

  get cacheStats(): MatchCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.cache.size };
  }

  /** Number of trie nodes, root included; O(nodes). For tests and diagnostics: churn must not grow it. */
  get nodeCount(): number {
    let count = 0;
    const stack: IndexNode<V>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      count++;
      if (node.literal !== undefined) for (const child of node.literal.values()) stack.push(child);
      if (node.plus !== undefined) stack.push(node.plus);
    }
    return count;
  }

  /**
   * Adds or replaces the value stored under (filter, key); returns the previous value.
   * Filters are already validated: '+' is a whole level, '#' only the last one.
   */
  set(filter: string, key: string, value: V): V | undefined {
    const levels = filter.split('/');
    const isHash = levels[levels.length - 1] === '#';
    const depth = isHash ? levels.length - 1 : levels.length;
    let node = this.root;
    for (let i = 0; i < depth; i++) {
      const level = levels[i]!;
      let child: IndexNode<V> | undefined;
      if (level === '+') {
        child = node.plus ??= new IndexNode<V>();
      } else {
        const literal = (node.literal ??= new Map());
        child = literal.get(level);
        if (child === undefined) literal.set(level, (child = new IndexNode<V>()));
      }
      node = child;
    }
    let entries = isHash ? node.hash : node.exact;
    if (entries === undefined) {
      entries = new Map();
      if (isHash) node.hash = entries;
      else node.exact = entries;
      this.distinctFilters++;
    }
    const existed = entries.has(key);
    const previous = entries.get(key);
    entries.set(key, value);
    if (!existed) this.entryCount++;
    // Replacing a value by itself changes no match result, so the cache may stay.
    if (!existed || !Object.is(previous, value)) this.invalidate(filter, levels);
    return previous;
  }

  get(filter: string, key: string): V | undefined {
    const levels = filter.split('/');
    const isHash = levels[levels.length - 1] === '#';
    const depth = isHash ? levels.length - 1 : levels.length;
    let node: IndexNode<V> | undefined = this.root;
    for (let i = 0; i < depth && node !== undefined; i++) {
      const level = levels[i]!;
      node = level === '+' ? node.plus : node.literal?.get(level);
    }
    return (isHash ? node?.hash : node?.exact)?.get(key);
  }

  /** Removes (filter, key) and returns its value; nodes left empty are freed, so churn does not grow memory. */
  delete(filter: string, key: string): V | undefined {
    const levels = filter.split('/');
    const isHash = levels[levels.length - 1] === '#';
    const depth = isHash ? levels.length - 1 : levels.length;
    // path[i] is the node reached after i levels, for pruning bottom-up without recursion.
    const path: IndexNode<V>[] = [this.root];
    let node = this.root;
    for (let i = 0; i < depth; i++) {
      const level = levels[i]!;
      const child = level === '+' ? node.plus : node.literal?.get(level);
      if (child === undefined) return undefined;
      path.push(child);
      node = child;
    }
    const entries = isHash ? node.hash : node.exact;
    if (entries === undefined || !entries.has(key)) return undefined;
    const previous = entries.get(key);
    entries.delete(key);
    this.entryCount--;
    if (entries.size === 0) {
      if (isHash) node.hash = undefined;
      else node.exact = undefined;
      this.distinctFilters--;
    }
    for (let i = depth; i > 0 && path[i]!.isEmpty(); i--) {
      const parent = path[i - 1]!;
      const level = levels[i - 1]!;
      if (level === '+') {
        parent.plus = undefined;
      } else {
        parent.literal!.delete(level);
        if (parent.literal!.size === 0) parent.literal = undefined;
      }
    }
    this.invalidate(filter, levels);
    return previous;
  }

  /**
   * Every value whose filter matches the topic name, one per (filter, key): merging the matches
   * of one subscriber (max QoS, subscription ids) is the router's job.
   * The returned array is owned by the index (it may be cached): do not mutate it, and do not
   * hold it across set/delete.
   */
  match(topic: string): readonly V[] {
    if (this.cacheSize === 0) return this.walk(topic);
    const cached = this.cache.get(topic);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const result = this.walk(topic);
    if (result.length <= MAX_CACHED_RESULT && topic.length <= MAX_CACHED_TOPIC_LENGTH) {
      if (this.cache.size >= this.cacheSize) this.sweep();
      this.cache.set(topic, result);
    }
    return result;
  }

  /**
   * The trie walk. Hot path: the topic is split once, the stack is explicit (topics may have
   * thousands of levels), and every node is reached at most once, since a node is one filter
   * prefix and a topic matches a prefix in exactly one way: no duplicates to remove.
   */
  private walk(topic: string): readonly V[] {
    const levels = topic.split('/');
    const n = levels.length;
    const nodes = this.stackNodes;
    const depths = this.stackDepths;
    const root = this.root;
    let result: V[] | undefined;
    let sp = 0;
    // [MQTT-4.7.2-1] a filter starting with '#' or '+' does not match a topic starting with '$'.
    if (topic.charCodeAt(0) !== 0x24 /* '$' */) {
      if (root.hash !== undefined) for (const value of root.hash.values()) (result ??= []).push(value);
      if (root.plus !== undefined) {
        nodes[sp] = root.plus;
        depths[sp++] = 1;
      }
    }
    const first = root.literal?.get(levels[0]!);
    if (first !== undefined) {
      nodes[sp] = first;
      depths[sp++] = 1;
    }
    while (sp > 0) {
      const node = nodes[--sp]!;
      const depth = depths[sp]!;
      // [MQTT-4.7.1-2] '#' matches the parent level and any number of levels below it.
      if (node.hash !== undefined) for (const value of node.hash.values()) (result ??= []).push(value);
      if (depth === n) {
        if (node.exact !== undefined) for (const value of node.exact.values()) (result ??= []).push(value);
        continue;
      }
      const literal = node.literal?.get(levels[depth]!);
      if (literal !== undefined) {
        nodes[sp] = literal;
        depths[sp++] = depth + 1;
      }
      // [MQTT-4.7.1-3] '+' matches exactly one level, an empty one included.
      if (node.plus !== undefined) {
        nodes[sp] = node.plus;
        depths[sp++] = depth + 1;
      }
    }
    return result ?? EMPTY;
  }

  /** Evicts the oldest cached topics down to a quarter, so a full cache is not swept on every miss. */
  private sweep(): void {
    const keep = this.cacheSweepTo;
    for (const topic of this.cache.keys()) {
      if (this.cache.size <= keep) break;
      this.cache.delete(topic);
    }
  }

  /**
   * Drops exactly the cached topics the changed filter matches. The cache is bounded, so a scan is
   * cheap; the filter's literal prefix rejects most topics before the level-by-level match.
   */
  private invalidate(filter: string, levels: readonly string[]): void {
    if (this.cache.size === 0) return;
    const last = levels.length - 1;
    let firstWildcard = levels.indexOf('+');
    if (firstWildcard === -1 && levels[last] === '#') firstWildcard = last;
    // [MQTT-4.7.1-1] without wildcards a filter matches only the equal topic name.
    if (firstWildcard === -1) {
      this.cache.delete(filter);
      return;
    }
    // '#' matches nearly every cached topic: clearing is cheaper than testing each one.
    if (last === 0 && levels[0] === '#') {
      this.cache.clear();
      return;
    }
    const prefix = levels.slice(0, firstWildcard).join('/');
    for (const topic of this.cache.keys()) {
      if (startsWithFromEnd(topic, prefix) && filterMatchesTopic(levels, topic)) this.cache.delete(topic);
    }
  }
}

/**
 * topic.startsWith(prefix), comparing from the prefix's last character: cached topics tend to share
 * their first levels ("fleet/device17/…"), so this rejects in one or two compares instead of a dozen
 * (invalidation 4 to 5 times faster in bench/topic-index.ts).
 */
function startsWithFromEnd(topic: string, prefix: string): boolean {
  if (topic.length < prefix.length) return false;
  for (let i = prefix.length - 1; i >= 0; i--) if (topic.charCodeAt(i) !== prefix.charCodeAt(i)) return false;
  return true;
}

/** Whether a split filter matches a topic name, scanning the topic without splitting it. */
function filterMatchesTopic(filter: readonly string[], topic: string): boolean {
  const first = filter[0];
  // [MQTT-4.7.2-1]
  if ((first === '+' || first === '#') && topic.charCodeAt(0) === 0x24 /* '$' */) return false;
  let start = 0; // start of the current topic level; past the end once every level is consumed
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#' && i === filter.length - 1) return true; // [MQTT-4.7.1-2] parent included
    if (start > topic.length) return false;
    let end = topic.indexOf('/', start);
    if (end === -1) end = topic.length;
    if (level !== '+' && (end - start !== level.length || !topic.startsWith(level, start))) return false;
    start = end + 1;
  }
  return start > topic.length;
}
