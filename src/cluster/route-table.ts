// The cluster's route table as this node sees it: filter → nodes, in a TopicIndex (the same trie
// and match cache the router uses), with every node's entries, this node's included. An entry is
// a topic filter, or "$share/{group}/{filter}" for a shared subscription group; a node announces an
// entry when its first local subscriber appears and withdraws it when the last one goes
// (LocalRoutes counts them). Each node's entries carry the sequence number of its last change, so
// a missed incremental update is noticed and that node is read again in full.

import { TopicIndex } from '../broker/topic-index.js';
import { parseSharedFilter } from '../protocol/validate.js';

/** The nodes with members in one shared-subscription group; one of them gets each message. */
export class ClusterGroup {
  readonly nodes: string[] = [];
  private next = 0;
  constructor(
    readonly group: string,
    readonly topicFilter: string,
  ) {}

  /** Round-robin over the nodes that have members of the group. */
  pick(): string {
    const node = this.nodes[this.next % this.nodes.length]!;
    this.next = (this.next + 1) % this.nodes.length;
    return node;
  }
}

/** A plain route is the node id; a shared one the group's node list. */
export type ClusterRoute = string | ClusterGroup;

const groupKey = (group: string): string => `\u0000${group}`;

export class RouteTable {
  readonly index = new TopicIndex<ClusterRoute>();
  private readonly nodes = new Map<string, { entries: Set<string>; seq: number }>();

  /** Nodes that have at least one entry, or whose sequence is known. */
  get knownNodes(): readonly string[] {
    return [...this.nodes.keys()];
  }

  entriesOf(node: string): ReadonlySet<string> {
    return this.nodes.get(node)?.entries ?? new Set();
  }

  seqOf(node: string): number {
    return this.nodes.get(node)?.seq ?? -1;
  }

  /**
   * An incremental update from a node. Returns false when it does not follow the last one seen
   * (an update was missed): the caller then reads that node's entries in full.
   */
  applyUpdate(node: string, seq: number, added: readonly string[], removed: readonly string[]): boolean {
    const state = this.nodes.get(node);
    const last = state?.seq ?? -1;
    if (seq <= last) return true; // already contained in a full read
    if (state === undefined || seq !== last + 1) return false;
    for (const entry of removed) this.remove(node, state.entries, entry);
    for (const entry of added) this.add(node, state.entries, entry);
    state.seq = seq;
    return true;
  }

  /** A node's full entry set (a snapshot read from Redis, or its reset after a reconnection). */
  replaceNode(node: string, entries: Iterable<string>, seq: number): void {
    const state = this.nodes.get(node) ?? { entries: new Set<string>(), seq };
    this.nodes.set(node, state);
    const wanted = new Set(entries);
    for (const entry of [...state.entries]) if (!wanted.has(entry)) this.remove(node, state.entries, entry);
    for (const entry of wanted) if (!state.entries.has(entry)) this.add(node, state.entries, entry);
    state.seq = seq;
  }

  removeNode(node: string): void {
    const state = this.nodes.get(node);
    if (state === undefined) return;
    for (const entry of [...state.entries]) this.remove(node, state.entries, entry);
    this.nodes.delete(node);
  }

  private add(node: string, entries: Set<string>, entry: string): void {
    entries.add(entry);
    const shared = parseSharedFilter(entry);
    if (shared === undefined) {
      this.index.set(entry, node, node);
      return;
    }
    let group = this.index.get(shared.filter, groupKey(shared.group)) as ClusterGroup | undefined;
    if (group === undefined) {
      group = new ClusterGroup(shared.group, shared.filter);
      this.index.set(shared.filter, groupKey(shared.group), group);
    }
    if (!group.nodes.includes(node)) group.nodes.push(node);
  }

  private remove(node: string, entries: Set<string>, entry: string): void {
    entries.delete(entry);
    const shared = parseSharedFilter(entry);
    if (shared === undefined) {
      this.index.delete(entry, node);
      return;
    }
    const group = this.index.get(shared.filter, groupKey(shared.group)) as ClusterGroup | undefined;
    if (group === undefined) return;
    const at = group.nodes.indexOf(node);
    if (at >= 0) group.nodes.splice(at, 1);
    if (group.nodes.length === 0) this.index.delete(shared.filter, groupKey(shared.group));
  }
}

/**
 * This node's subscriptions counted per entry; changes are collected during a turn and announced
 * once, as the net difference (a replaced subscription is removed and added in the same turn).
 */
export class LocalRoutes {
  private readonly counts = new Map<string, number>();
  private readonly announced = new Set<string>();
  private readonly touched = new Set<string>();

  static entry(topicFilter: string, group: string | undefined): string {
    return group === undefined ? topicFilter : `$share/${group}/${topicFilter}`;
  }

  added(entry: string): void {
    this.counts.set(entry, (this.counts.get(entry) ?? 0) + 1);
    this.touched.add(entry);
  }

  removed(entry: string): void {
    const count = (this.counts.get(entry) ?? 0) - 1;
    if (count > 0) this.counts.set(entry, count);
    else this.counts.delete(entry);
    this.touched.add(entry);
  }

  get pending(): boolean {
    return this.touched.size > 0;
  }

  /** The net change since the last call, now taken as announced. */
  takeChanges(): { added: string[]; removed: string[] } {
    const added: string[] = [];
    const removed: string[] = [];
    for (const entry of this.touched) {
      const wanted = this.counts.has(entry);
      if (wanted && !this.announced.has(entry)) {
        this.announced.add(entry);
        added.push(entry);
      } else if (!wanted && this.announced.has(entry)) {
        this.announced.delete(entry);
        removed.push(entry);
      }
    }
    this.touched.clear();
    return { added, removed };
  }

  /** Every entry with a local subscriber (for a full announcement); pending changes are folded in. */
  all(): string[] {
    this.takeChanges();
    return [...this.announced];
  }
}
