// Dynamic-security configurations shared by the nodes: a change made through the control topic on
// one node is written to culex:dynsec:NAME (with a version counter) and announced, configuration
// included, on culex:dynsec-changes in one script; every other node takes it, saves it to its own
// file and disconnects the clients the change disconnected on the first node. A node joining takes
// Redis's copy; one with changes Redis has not seen (made while it was unreachable, or Redis lost
// them) writes its own. See docs/CLUSTER.md, "Dynamic security".

import { clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

/** What a dynamic-security configuration offers the cluster (src/auth/dynsec/dynamic-security.ts). */
export interface SharedDynsec {
  readonly name: string;
  config(): string;
  /** Takes a configuration made on another node; throws when it is not usable. */
  replace(config: string): void;
  onChange: ((change: { readonly config: string; readonly kick: readonly string[]; readonly kickAnonymous: boolean }) => void) | undefined;
}

/** Header of an announcement, JSON on one line: the node that made the change and whom it disconnected. */
interface Header {
  readonly node: string;
  readonly name: string;
  readonly kick: readonly string[];
  readonly kickAnonymous: boolean;
}

/**
 * Stores the configuration under the next version and announces "VERSION\nHEADER\nCONFIG" in one
 * step, so the announcements of all nodes come in version order. Returns the version.
 */
const WRITE = `local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'config', ARGV[1])
redis.call('PUBLISH', ARGV[2], v .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[1])
return v`;

interface Shared {
  readonly document: SharedDynsec;
  /** Version of the configuration in place: a change announced with a lower one is older. */
  version: number;
  /** Own writes not yet answered by Redis. */
  pending: number;
  /** Another node's change was taken while own writes were pending (it may be older than ours). */
  takenWhilePending: boolean;
  /** A change was made here while Redis was unreachable: written at the next resync. */
  unsent: boolean;
}

export class DynsecShare {
  private readonly shared = new Map<string, Shared>();

  constructor(
    private readonly node: ClusterNode,
    documents: readonly SharedDynsec[],
  ) {
    for (const document of documents) {
      if (this.shared.has(document.name)) {
        node.logger.log('warning', `Cluster: two dynamic-security files named ${document.name}; only the first is shared with the other nodes.`);
        continue;
      }
      const entry: Shared = { document, version: 0, pending: 0, takenWhilePending: false, unsent: false };
      this.shared.set(document.name, entry);
      document.onChange = (change) => this.write(entry, change.config, { node: node.id, name: document.name, kick: change.kick, kickAnonymous: change.kickAnonymous });
    }
  }

  get size(): number {
    return this.shared.size;
  }

  private write(entry: Shared, config: string, header: Header): void {
    const link = this.node.link;
    if (!link.isUp) {
      entry.unsent = true;
      return;
    }
    entry.pending++;
    (link.commands.eval(WRITE, 1, keys.dynsec(header.name), config, keys.dynsecChanges, JSON.stringify(header)) as Promise<number>).then(
      (version) => {
        entry.pending--;
        if (version > entry.version) {
          // an older change of another node taken meanwhile is replaced by ours, which Redis keeps
          if (entry.takenWhilePending) this.apply(entry, config);
          entry.version = version;
        }
        if (entry.pending === 0) entry.takenWhilePending = false;
      },
      (error: unknown) => {
        entry.pending--;
        entry.unsent = true;
        this.node.logger.log('warning', `Cluster: dynamic-security change not shared (${error instanceof Error ? error.message : String(error)}); it will be at the next resync.`);
      },
    );
  }

  /** An announcement from culex:dynsec-changes; returns what is wrong with a bad one. */
  received(data: string): string | undefined {
    const first = data.indexOf('\n');
    const second = data.indexOf('\n', first + 1);
    if (first < 0 || second < 0) return 'dynsec change without header';
    const version = Number(data.slice(0, first));
    let header: Header;
    try {
      header = JSON.parse(data.slice(first + 1, second)) as Header;
    } catch {
      return 'dynsec change header is not JSON';
    }
    const entry = this.shared.get(header.name);
    if (entry === undefined || header.node === this.node.id || !(version > entry.version)) return undefined;
    if (!this.apply(entry, data.slice(second + 1))) return undefined;
    entry.version = version;
    if (entry.pending > 0) entry.takenWhilePending = true;
    this.disconnect(header);
    return undefined;
  }

  /**
   * At join and after an outage: takes Redis's copy, or writes this node's when Redis lacks it or
   * misses a change made here while Redis was unreachable (the last writer wins).
   */
  async load(): Promise<void> {
    const commands = this.node.link.commands;
    for (const entry of this.shared.values()) {
      const stored = await commands.hgetall(keys.dynsec(entry.document.name));
      const version = Number(stored.version ?? 0);
      if (stored.config === undefined || entry.unsent) {
        entry.unsent = false;
        if (stored.config === undefined) entry.version = 0; // Redis lost it: versions start again
        this.write(entry, entry.document.config(), { node: this.node.id, name: entry.document.name, kick: [], kickAnonymous: false });
      } else if (version !== entry.version) {
        if (this.apply(entry, stored.config)) entry.version = version;
      }
    }
  }

  private apply(entry: Shared, config: string): boolean {
    try {
      entry.document.replace(config);
      return true;
    } catch (error) {
      this.node.badFrame(`dynamic-security configuration ${entry.document.name}: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }

  /** The clients the change disconnected on its node are disconnected here too (0x98 for v5). */
  private disconnect(header: Header): void {
    const kick = new Set(Array.isArray(header.kick) ? header.kick : []);
    if (kick.size === 0 && header.kickAnonymous !== true) return;
    this.node.broker.disconnectClients((client) => (client.username === undefined ? header.kickAnonymous === true : kick.has(client.username)));
  }
}
