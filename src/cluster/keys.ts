// Every Redis key and channel the cluster uses, in one place (docs/CLUSTER.md lists them).
// A node's own keys share the hash tag {node:ID}, so on a Redis Cluster they live in one slot.

export const clusterKeys = {
  /** HASH node id → JSON status (listeners, clients, counters), rewritten on each heartbeat. */
  nodes: 'culex:nodes',
  /** HASH client id → node id holding its connection or session. */
  clients: 'culex:clients',
  /**
   * HASH client id → run (a token each node picks at start) of the node that last claimed it, so a
   * client that came back through a restarted node with the same id is told from one that never came
   * back (liveness.ts, held wills). Beside `clients` rather than in its values, which nodes of an
   * earlier version read as node ids; its hash tag is that key's whole name, so both sit in one slot
   * and change together in one script.
   */
  clientRuns: '{culex:clients}:runs',
  /** HASH topic → message frame: the retained messages of the cluster. */
  retained: 'culex:retained',
  /**
   * ZSET topic → expiry time (epoch ms) of the retained messages that have one, for the sweep
   * (retained-sweep.ts). Its hash tag is the retained hash's whole name, so on a Redis Cluster both
   * keys sit in one slot and change together.
   */
  retainedExpiry: '{culex:retained}:expiry',
  /** Broadcast channel: route table changes (JSON). */
  routeChanges: 'culex:routes',
  /** Broadcast channel: retained message changes (node id + frame). */
  retainedChanges: 'culex:retained-changes',
  /** HASH version, config: a dynamic-security configuration (NAME: its file's name), src/cluster/dynsec-share.ts. */
  dynsec: (name: string): string => `culex:dynsec:${name}`,
  /** Broadcast channel: dynamic-security changes ("version\nheader JSON\nconfig JSON"). */
  dynsecChanges: 'culex:dynsec-changes',
  /** STRING with a TTL: the node is alive while it exists. */
  alive: (node: string): string => `culex:{node:${node}}:alive`,
  /** HASH entry → "1" plus "#seq": the node's route table entries. */
  routes: (node: string): string => `culex:{node:${node}}:routes`,
  /** HASH client id → will (delay + frame) of the node's connected clients. */
  wills: (node: string): string => `culex:{node:${node}}:wills`,
  /**
   * HASH "dead-node NUL client id NUL run" → due time (8 bytes, epoch ms) + will: the wills of dead
   * nodes' clients this node has scheduled (their will delay not over), for the node that cleans up
   * after it should it die too before sending them. The run is the client's in clientRuns at the
   * clean-up (empty if none); a field without it was written by an earlier version.
   */
  heldWills: (node: string): string => `culex:{node:${node}}:held-wills`,
  /** SET of client ids whose session lives on the node. */
  sessions: (node: string): string => `culex:{node:${node}}:sessions`,
  /** STRING lock, renewed while held: the node cleaning up after a dead node, or the node joining (reaper-lock.ts). */
  reaper: (node: string): string => `culex:{node:${node}}:reaper`,
  /**
   * HASH "origin-node:seq" → batch: QoS 1/2 batches sent to the node and not yet stored by it (only
   * with sessions in Redis), for the node that adopts its sessions should it die. TTL one day.
   */
  inbox: (node: string): string => `culex:{node:${node}}:inbox`,
  /** STRING lease: the node that runs something only one node may run, such as a bridge (src/cluster/lease.ts). */
  lease: (name: string): string => `culex:lease:${name}`,
  /** The node's data channel (sharded on a Redis Cluster): message and takeover frames for it. */
  data: (node: string): string => `culex:{node:${node}}:data`,
} as const;

/** "#seq" is no valid topic filter ('#' must be a whole level), so it cannot clash with an entry. */
export const SEQ_FIELD = '#seq';

/**
 * Compare-and-set of the client registry (KEYS clients, clientRuns; ARGV client id, node, run):
 * records the node and its run, returns the node that held the id before.
 */
export const CLAIM_CLIENT = "local old = redis.call('HGET', KEYS[1], ARGV[1]); redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]); return old";
/** Claims a client id (with its run) only if no node holds it (KEYS and ARGV as CLAIM_CLIENT). */
export const CLAIM_FREE_CLIENT = "if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) return 1 end return 0";
/** Frees a client id, and its run, only if the given node still holds it (KEYS clients, clientRuns; ARGV client id, node). */
export const RELEASE_CLIENT = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[2], ARGV[1]) return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";
/** Deletes a lock (or lease) only if the given owner still holds it. */
export const RELEASE_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/** Extends a lock's (or lease's) life to ARGV[2] ms only if the given owner still holds it. */
export const RENEW_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/**
 * Moves a client id from a dead node to the adopting one, only if the dead node still holds it. Its
 * run stays the dead node's: an adoption is not the client coming back.
 */
export const ADOPT_CLIENT = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0";
