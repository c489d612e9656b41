// The shared store of a cluster: persistent sessions in Redis (a single server or Redis Cluster,
// through ioredis), so that a client whose node dies or that connects through another node finds
// its session there (docs/CLUSTER.md, "Sessions in Redis").
//
// Deltas are grouped per session and committed at the end of the event-loop turn: one MULTI for
// the whole commit on a single server, one MULTI per session on a Redis Cluster (a session's keys
// share a hash tag, so one slot), all sent together in one pipelined write; sync() resolves once Redis has answered every MULTI, so the broker acknowledges
// a QoS 1/2 PUBLISH only when the outgoing entries it made are in Redis. Whether Redis itself
// survives a crash is Redis's setting: appendonly yes with appendfsync everysec or always.
//
// Each outgoing entry keeps its own copy of its message (HASH seq → bytes), so a session is
// self-contained: it can be read, moved and expired by itself, and nothing is shared between
// sessions that would need reference counting in Redis. Message ids are per process, so a session
// read back names each message by its entry's seq instead (see sessionLoad). A disconnected session's keys carry a TTL
// at its expiry time (PEXPIREAT), so a session whose node died is removed by Redis when it expires.
// Retained messages are not kept here: the cluster backplane keeps them in Redis (culex:retained).
// Sessions whose commit failed (Redis away) are remembered, for the cluster to write them back whole
// from memory (sessionRewrite), as it does for those Redis lost (missing).

import type { Cluster, Redis } from 'ioredis';
import type { LoadedSession, Store, StoredMessage, StoredOutgoing, StoredSession, StoredSessionHeader, StoredState, StoredSubscription } from './port.js';
import type { ProtocolVersion } from '../protocol/packets.js';
import { decodeMessage, decodeOutgoing, decodeSubscription, encodeMessage, encodeOutgoing, encodeSubscription } from './redis-codec.js';
import { allSessionKeys, sessionKeys, type SessionKeys } from './redis-keys.js';
import { deferred, type Deferred } from './deferred.js';

/** Session Expiry Interval meaning "never expires" (MQTT 5.0 §3.1.2.11.2). */
const NEVER_EXPIRES = 0xffffffff;

export interface RedisStoreOptions {
  /** Longest wait before pending changes are committed; 0 (default) = at the end of the event-loop turn. */
  readonly commitDelayMs?: number;
  /** Called when a commit fails (the waiting acknowledgements fail with it). */
  readonly onError?: (error: Error) => void;
}

export type Command = [name: string, ...args: (string | number | Buffer)[]];

/** An outgoing entry's pending change: its new content or null (delete), and whether Redis has it. */
interface PendingEntry {
  value: StoredOutgoing | null;
  inRedis: boolean;
}

/** What one session has pending for the next commit. */
interface PendingSession {
  readonly keys: SessionKeys;
  /** Header, subscription, QoS 2 and whole-session commands, in the order they were recorded. */
  readonly commands: Command[];
  /** Outgoing entries by seq, merged so an add and a delete within one commit cancel out. */
  outgoing: Map<number, PendingEntry>;
}

export class RedisStore implements Store {
  readonly durable = true;
  readonly shared = true;
  private pending = new Map<string, PendingSession>();
  /** Commands of other modules to commit with the sessions' changes (alsoCommit). */
  private extra: Command[] = [];
  /** A Redis Cluster: one MULTI per session (its slot); a single server: one MULTI for the commit. */
  private readonly sharded: boolean;
  /** Messages referenced by outgoing entries (messageAdd → messageDelete), to copy into each entry. */
  private readonly messages = new Map<number, StoredMessage>();
  /** Epoch ms when each disconnected session recorded here expires (its keys get this TTL). */
  private readonly deadlines = new Map<string, number>();
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private waiter: Deferred | undefined;
  /** Sessions whose changes a failed commit lost (Redis away): Redis misses them until rewritten. */
  private readonly unsynced = new Set<string>();
  /** The commit Redis has not answered yet, if any. */
  private inflight: Promise<void> | undefined;
  /** Redis Cluster: the last alsoCommit commands (other slots: inbox deletions) until Redis answers them. */
  private extraInflight: Promise<void> | undefined;
  /** Redis Cluster: per session, its last transaction held behind extraInflight, until answered (the session's next ones follow it). */
  private readonly held = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    readonly client: Redis | Cluster,
    private readonly options: RedisStoreOptions = {},
  ) {
    this.sharded = typeof (client as Cluster).nodes === 'function';
  }

  /**
   * A command to commit with the changes recorded so far (the cluster deletes the inbox copy of a
   * batch it has stored): on a single server in the same MULTI, so both happen or neither does; on
   * a Redis Cluster once they are answered. The commands given must share one slot. On a Redis
   * Cluster, a later commit that deletes outgoing entries waits until Redis has answered these
   * commands: an entry made from an inbox batch never leaves Redis while the batch is still there,
   * where a node replaying the inbox after this one's death would take its message for new.
   */
  alsoCommit(command: Command): void {
    if (this.closed) return;
    this.extra.push(command);
    this.schedule();
  }

  load(): Promise<StoredState> {
    // shared: sessions are read one by one when their clients connect (sessionLoad)
    return Promise.resolve({ sessions: [], retained: [], messages: [] });
  }

  async sessionLoad(clientId: string): Promise<LoadedSession | undefined> {
    await this.flush(); // this node's own pending changes first
    const keys = sessionKeys(clientId);
    const replies = await this.client
      .pipeline()
      .hgetall(keys.header)
      .hgetall(keys.subscriptions)
      .hgetall(keys.outgoing)
      .hgetallBuffer(keys.bodies)
      .smembers(keys.incomingQos2)
      .exec();
    if (replies === null) throw new Error('Redis aborted the read');
    for (const [error] of replies) if (error !== null) throw error;
    const [header, subscriptions, outgoing, bodies, incoming] = replies.map(([, value]) => value) as [Record<string, string>, Record<string, string>, Record<string, string>, Record<string, Buffer>, string[]];
    if (header.v === undefined) return undefined;
    // Each entry has its own copy of its message, written by whichever node held the session then:
    // message ids are per process, so two entries may carry the same id for different messages.
    // The entry's seq, unique in the session, becomes the id both are read back with.
    const messages: StoredMessage[] = [];
    const entries: StoredOutgoing[] = [];
    for (const [field, text] of Object.entries(outgoing)) {
      const entry = decodeOutgoing(Number(field), text);
      const body = bodies[field];
      const message = body === undefined ? undefined : decodeMessage(body);
      if (entry === undefined || message === undefined) continue; // damaged: the entry is dropped
      messages.push({ ...message, id: entry.seq });
      entries.push({ ...entry, messageId: entry.seq });
    }
    entries.sort((a, b) => a.seq - b.seq);
    const session: StoredSession = {
      clientId,
      protocolVersion: Number(header.v) as ProtocolVersion,
      expiryInterval: Number(header.exp ?? 0),
      disconnectedAt: Number(header.dis ?? 0),
      subscriptions: Object.entries(subscriptions).flatMap(([filter, text]) => decodeSubscription(filter, text) ?? []),
      outgoing: entries,
      incomingQos2: incoming.map(Number).filter((id) => Number.isInteger(id)),
    };
    return { session, messages };
  }

  async sessionRelease(clientId: string): Promise<void> {
    await this.flush();
    this.deadlines.delete(clientId);
  }

  /**
   * Replaces what Redis has of a session with the whole of it, as the node holds it in memory (the
   * cluster's repair after Redis lost it or missed its changes). Changes recorded before it in the
   * same commit are overwritten; their outgoing entries are part of the session anyway.
   */
  sessionRewrite(session: StoredSession, messages: readonly StoredMessage[]): void {
    const p = this.session(session.clientId);
    p.commands.push(['del', ...allSessionKeys(p.keys)]);
    p.outgoing = new Map();
    this.sessionSave(session);
    for (const subscription of session.subscriptions) this.subscriptionSet(session.clientId, subscription);
    const bodies = new Map(messages.map((message) => [message.id, message]));
    for (const entry of session.outgoing) {
      const message = bodies.get(entry.messageId);
      if (message === undefined) continue;
      p.commands.push(['hset', p.keys.outgoing, entry.seq, encodeOutgoing(entry)], ['hset', p.keys.bodies, entry.seq, encodeMessage(message)]);
    }
    if (session.incomingQos2.length > 0) p.commands.push(['sadd', p.keys.incomingQos2, ...session.incomingQos2]);
  }

  /** The client ids of the sessions failed commits left behind since the last call. */
  takeUnsynced(): string[] {
    const ids = [...this.unsynced];
    this.unsynced.clear();
    return ids;
  }

  /** Which of these sessions Redis has no header for (it restarted empty, or was flushed). */
  async missing(clientIds: readonly string[]): Promise<Set<string>> {
    const gone = new Set<string>();
    // one EXISTS per session, sent without waiting for each other (a Redis Cluster pipeline must stay in one slot)
    for (let i = 0; i < clientIds.length; i += 1000) {
      const chunk = clientIds.slice(i, i + 1000);
      const found = await Promise.all(chunk.map((clientId) => this.client.exists(sessionKeys(clientId).header)));
      found.forEach((count, index) => count === 0 && gone.add(chunk[index]!));
    }
    return gone;
  }

  retainedSet(): void {} // kept by the cluster backplane (culex:retained)
  retainedDelete(): void {}

  sessionSave(h: StoredSessionHeader): void {
    const p = this.session(h.clientId);
    p.commands.push(['hset', p.keys.header, 'v', h.protocolVersion, 'exp', h.expiryInterval, 'dis', h.disconnectedAt]);
    if (h.disconnectedAt === 0 || h.expiryInterval === NEVER_EXPIRES) {
      // connected (or never expiring): no TTL; the expiry counts again from its next disconnection
      if (this.deadlines.delete(h.clientId) || h.disconnectedAt === 0) for (const key of allSessionKeys(p.keys)) p.commands.push(['persist', key]);
    } else {
      this.deadlines.set(h.clientId, h.disconnectedAt + h.expiryInterval * 1000);
    }
  }
  sessionDelete(clientId: string): void {
    const p = this.session(clientId);
    p.commands.push(['del', ...allSessionKeys(p.keys)]);
    p.outgoing = new Map(); // every entry goes with the DEL
    this.deadlines.delete(clientId);
  }
  subscriptionSet(clientId: string, sub: StoredSubscription): void {
    const p = this.session(clientId);
    p.commands.push(['hset', p.keys.subscriptions, sub.filter, encodeSubscription(sub)]);
  }
  subscriptionDelete(clientId: string, filter: string): void {
    const p = this.session(clientId);
    p.commands.push(['hdel', p.keys.subscriptions, filter]);
  }
  messageAdd(m: StoredMessage): void {
    this.messages.set(m.id, m);
  }
  messageDelete(messageId: number): void {
    this.messages.delete(messageId);
  }
  outgoingAdd(clientId: string, e: StoredOutgoing): void {
    const rows = this.session(clientId).outgoing;
    rows.set(e.seq, { value: e, inRedis: rows.get(e.seq)?.inRedis ?? false });
  }
  outgoingUpdate(clientId: string, e: StoredOutgoing): void {
    const rows = this.session(clientId).outgoing;
    rows.set(e.seq, { value: e, inRedis: rows.get(e.seq)?.inRedis ?? true });
  }
  outgoingDelete(clientId: string, seq: number): void {
    const rows = this.session(clientId).outgoing;
    const pending = rows.get(seq);
    if (pending !== undefined && !pending.inRedis) rows.delete(seq);
    else rows.set(seq, { value: null, inRedis: true });
  }
  incomingQos2Add(clientId: string, packetId: number): void {
    const p = this.session(clientId);
    p.commands.push(['sadd', p.keys.incomingQos2, packetId]);
  }
  incomingQos2Delete(clientId: string, packetId: number): void {
    const p = this.session(clientId);
    p.commands.push(['srem', p.keys.incomingQos2, packetId]);
  }

  sync(): Promise<void> | undefined {
    if (this.timer === undefined) return this.inflight; // nothing new: the commit in flight, if any
    this.waiter ??= deferred();
    return this.waiter.promise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    this.closed = true;
    await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }

  /** Commits what is pending now and resolves when every commit so far is answered. */
  private async flush(): Promise<void> {
    if (this.timer !== undefined) this.commit();
    await this.inflight;
  }

  private session(clientId: string): PendingSession {
    let p = this.pending.get(clientId);
    if (p === undefined) this.pending.set(clientId, (p = { keys: sessionKeys(clientId), commands: [], outgoing: new Map() }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const delay = this.options.commitDelayMs ?? 0;
    this.timer = delay > 0 ? setTimeout(() => this.commit(), delay) : setImmediate(() => this.commit());
  }

  /** The commands of one session's commit: recorded order, then outgoing entries, then its TTL. */
  private commandsOf(clientId: string, p: PendingSession): Command[] {
    const commands = p.commands;
    const { outgoing, bodies } = p.keys;
    for (const [seq, { value: e, inRedis }] of p.outgoing) {
      if (e === null) {
        commands.push(['hdel', outgoing, seq], ['hdel', bodies, seq]);
        continue;
      }
      commands.push(['hset', outgoing, seq, encodeOutgoing(e)]);
      if (inRedis) continue;
      const message = this.messages.get(e.messageId);
      if (message !== undefined) commands.push(['hset', bodies, seq, encodeMessage(message)]);
    }
    const deadline = this.deadlines.get(clientId);
    // keys created while the session is away (its first queued message) get the TTL too
    if (deadline !== undefined) for (const key of allSessionKeys(p.keys)) commands.push(['pexpireat', key, deadline]);
    return commands;
  }

  /**
   * One session's MULTI on a Redis Cluster: sent at once, unless it deletes outgoing entries while
   * earlier alsoCommit commands are unanswered (alsoCommit), or an earlier transaction of the
   * session waits so: then after them, in order.
   */
  private sessionTransaction(clientId: string, commands: Command[], deletes: boolean): Promise<void> {
    const before = this.held.get(clientId) ?? (deletes ? this.extraInflight : undefined);
    if (before === undefined) return this.client.multi(commands).exec().then(failedCommand);
    const sent = before.then(() => this.client.multi(commands).exec().then(failedCommand));
    const answered = settled(sent);
    this.held.set(clientId, answered);
    void answered.then(() => {
      if (this.held.get(clientId) === answered) this.held.delete(clientId);
    });
    return sent;
  }

  /** One MULTI per session, pipelined together; the acknowledgements waiting on sync() follow. */
  private commit(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    const pending = this.pending;
    const extra = this.extra;
    const waiter = this.waiter;
    this.pending = new Map();
    this.extra = [];
    this.waiter = undefined;
    const transactions: Promise<unknown>[] = [];
    const single: Command[] = [];
    for (const [clientId, p] of pending) {
      const deletes = this.sharded && this.extraInflight !== undefined && deletesEntries(p);
      const commands = this.commandsOf(clientId, p);
      if (commands.length === 0) continue;
      if (this.sharded) transactions.push(this.sessionTransaction(clientId, commands, deletes));
      else single.push(...commands);
    }
    if (this.sharded && extra.length > 0) {
      // other slots: only once the sessions' changes are in, so they never come first
      const after = Promise.all(transactions);
      const sent = after.then(() => this.client.multi(extra).exec().then(failedCommand));
      transactions.push(sent);
      const answered = settled(sent);
      this.extraInflight = answered;
      void answered.then(() => {
        if (this.extraInflight === answered) this.extraInflight = undefined;
      });
    } else single.push(...extra);
    if (single.length > 0) transactions.push(this.client.multi(single).exec().then(failedCommand));
    const previous = this.inflight;
    // commits settle in order, so "the last commit answered" means "everything recorded so far"
    const done = Promise.all([previous?.catch(() => undefined), ...transactions]).then(() => undefined);
    this.inflight = done;
    done.then(
      () => {
        if (this.inflight === done) this.inflight = undefined;
        waiter?.resolve();
      },
      (error: unknown) => {
        if (this.inflight === done) this.inflight = undefined;
        for (const clientId of pending.keys()) this.unsynced.add(clientId);
        const failure = error instanceof Error ? error : new Error(String(error));
        this.options.onError?.(failure);
        waiter?.reject(failure);
      },
    );
  }
}

/** Resolves once `promise` is settled, whichever way (a wait that must not fail with it). */
function settled(promise: Promise<unknown>): Promise<void> {
  return promise.then(
    () => undefined,
    () => undefined,
  );
}

/** True when the session's pending changes delete outgoing entries Redis has. */
function deletesEntries(p: PendingSession): boolean {
  for (const { value, inRedis } of p.outgoing.values()) if (value === null && inRedis) return true;
  return false;
}

/** EXEC answers null when the transaction was aborted, and an error per failed command. */
function failedCommand(replies: [Error | null, unknown][] | null): void {
  if (replies === null) throw new Error('Redis aborted the transaction');
  for (const [error] of replies) if (error !== null) throw error;
}
