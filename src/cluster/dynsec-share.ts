// Dynamic-security configurations shared by the nodes: a change made through the control topic on
// one node is written to culex:dynsec:NAME (with a version counter) and announced, configuration
// included, on culex:dynsec-changes in one script; every other node takes it, saves it to its own
// file and disconnects the clients the change disconnected on the first node. A node joining takes
// Redis's copy; one with changes Redis has not seen (made while it was unreachable, or Redis lost
// them) writes its own. A node that was cut off from Redis takes the changes made meanwhile on its
// return, and disconnects whom they concern, found by comparing the two configurations
// (auth/dynsec/concerned.ts). See docs/CLUSTER.md, "Dynamic security".

import type { Concerned } from '../auth/dynsec/concerned.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

/** What a dynamic-security configuration offers the cluster (src/auth/dynsec/dynamic-security.ts). */
export interface SharedDynsec {
  readonly name: string;
  config(): string;
  /** Takes a configuration made on another node and returns whom the change concerns; throws when it is not usable. */
  replace(config: string): Concerned;
  /** Whom a change from the given configuration to the one in place concerns; throws when it is not usable. */
  concernedSince(config: string): Concerned;
  onChange: ((change: { readonly config: string; readonly kick: readonly string[]; readonly kickAnonymous: boolean }) => void) | undefined;
}

/** Header of an announcement, JSON on one line: the node that made the change and whom it disconnected. */
interface Header extends Concerned {
  readonly node: string;
  readonly name: string;
}

const NOBODY: Concerned = { kick: [], kickAnonymous: false };

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
          if (entry.takenWhilePending) this.disconnect(this.apply(entry, config) ?? NOBODY);
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
    const concerned = this.apply(entry, data.slice(second + 1));
    if (concerned === undefined) return undefined;
    entry.version = version;
    if (entry.pending > 0) entry.takenWhilePending = true;
    // whom the change disconnected on its node, and whom the comparison finds: that covers the
    // changes of announcements this node missed (its subscriber connection was reconnecting)
    const kick = Array.isArray(header.kick) ? header.kick : [];
    this.disconnect({ kick: [...new Set([...kick, ...concerned.kick])], kickAnonymous: header.kickAnonymous === true || concerned.kickAnonymous });
    return undefined;
  }

  /**
   * At join and after an outage: takes Redis's copy, disconnecting the clients its changes concern
   * (changes other nodes made while this one was cut off), or writes this node's when Redis lacks it
   * or misses a change made here while Redis was unreachable (the last writer wins; the other nodes
   * then disconnect the clients this node's changes concern).
   */
  async load(): Promise<void> {
    const commands = this.node.link.commands;
    for (const entry of this.shared.values()) {
      const name = entry.document.name;
      const stored = await commands.hgetall(keys.dynsec(name));
      const version = Number(stored.version ?? 0);
      if (stored.config === undefined || entry.unsent) {
        entry.unsent = false;
        if (stored.config === undefined) entry.version = 0; // Redis lost it: versions start again
        // the others hold Redis's copy: whom going from it to this node's concerns
        const concerned = stored.config === undefined ? NOBODY : this.concernedSince(entry, stored.config);
        this.write(entry, entry.document.config(), { node: this.node.id, name, kick: concerned.kick, kickAnonymous: concerned.kickAnonymous });
      } else if (version !== entry.version) {
        const concerned = this.apply(entry, stored.config);
        if (concerned === undefined) continue;
        entry.version = version;
        // at join no client is connected yet: only a node back from an outage disconnects anyone here
        const count = this.disconnect(concerned);
        if (count > 0) this.node.logger.log('notice', `Cluster: dynamic-security configuration ${name} changed on another node while this one was cut off from Redis; taken, and the ${count} connected client${count === 1 ? '' : 's'} it concerns disconnected.`);
      }
    }
  }

  /** Takes another node's configuration; returns whom the change concerns, undefined when it is not usable. */
  private apply(entry: Shared, config: string): Concerned | undefined {
    try {
      return entry.document.replace(config);
    } catch (error) {
      this.node.badFrame(`dynamic-security configuration ${entry.document.name}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  private concernedSince(entry: Shared, config: string): Concerned {
    try {
      return entry.document.concernedSince(config);
    } catch {
      return NOBODY; // Redis's copy is not usable: nobody holds it
    }
  }

  /** The clients a change concerns (it disconnected them on its node) are disconnected here (0x98 for v5); returns how many. */
  private disconnect(concerned: Concerned): number {
    const kick = new Set(concerned.kick);
    if (kick.size === 0 && !concerned.kickAnonymous) return 0;
    return this.node.broker.disconnectClients((client) => (client.username === undefined ? concerned.kickAnonymous : kick.has(client.username)));
  }
}
