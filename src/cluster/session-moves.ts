// Persistent sessions moving between nodes, when the cluster keeps them in Redis (the Redis store):
//  - hand-over: before a node answers a CONNECT for a client id another node holds, it asks that
//    node to commit the session and let it go, and waits for the answer; a node that does not
//    answer is dead, and the node cleaning up after it adopts the session meanwhile;
//  - adoption: the node cleaning up after a dead node takes its persistent sessions from Redis, so
//    their subscriptions stay routed and messages keep queueing until their clients come back;
//  - inbox replay: QoS 1/2 batches sent to the dead node that it never confirmed are delivered to
//    the adopted sessions, so nothing a publisher had acknowledged is lost with the node.
// See docs/CLUSTER.md, "Sessions in Redis".

import { Router } from '../broker/router.js';
import type { Session } from '../broker/session.js';
import type { LoadedSession } from '../store/port.js';
import { FrameKind, decodeFrames, encodeHandOverFrame, encodeHandedOverFrame, type HandOverFrame } from './frame.js';
import { deliverToSession } from './hand-over-window.js';
import { ADOPT_CLIENT, RELEASE_CLIENT, clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class SessionMoves {
  /** Hand-overs this node waits for, by client id. */
  private readonly waiting = new Map<string, () => void>();
  /** Client ids being adopted, and the end of their adoption (inbox replayed): a hand-over request waits for it. */
  private installing: { readonly ids: Set<string>; readonly done: Promise<void> } | undefined;

  constructor(
    private readonly node: ClusterNode,
    private readonly heartbeatMs: number,
  ) {}

  /**
   * Before a CONNECT is answered: the node holding the client id lets its session go. A holder
   * that does not answer within three heartbeats is asked again while it is alive; once dead, the
   * node cleaning up after it adopts the session and is asked in turn. Bounded: fifteen heartbeats
   * in all, after which the session is read from Redis as it is.
   */
  async take(clientId: string, clean: boolean): Promise<void> {
    const { link, id } = this.node;
    const commands = link.commands;
    const deadline = Date.now() + this.heartbeatMs * 15;
    let holder: string | null = null;
    this.node.window.expect(clientId); // until the broker says the session arrived
    while (link.isUp && Date.now() < deadline) {
      holder = await commands.hget(keys.clients, clientId);
      if (holder === null || holder === id) return;
      if (await this.ask(holder, clientId, clean, this.heartbeatMs * 3)) return;
      if ((await commands.exists(keys.alive(holder))) === 1) continue; // alive, only slow: ask again
      // dead: the node that cleans up after it adopts the session (or frees the id), then is asked
      while (Date.now() < deadline && (await commands.hget(keys.clients, clientId)) === holder) await sleep(this.heartbeatMs / 4);
    }
    if (holder !== null && holder !== id) this.node.logger.log('warning', `Cluster: node ${holder} did not hand over the session of ${clientId}; reading it from Redis as it is.`);
  }

  private ask(holder: string, clientId: string, clean: boolean, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(clientId);
        resolve(false);
      }, ms);
      this.waiting.set(clientId, () => {
        clearTimeout(timer);
        this.waiting.delete(clientId);
        resolve(true);
      });
      this.node.send(keys.data(holder), encodeHandOverFrame(clientId, clean, this.node.id));
    });
  }

  /** Another node takes a client id: its session is committed and let go, then that node is told. */
  onRequest(frame: HandOverFrame): void {
    this.node.stats.takeovers++;
    const broker = this.node.broker;
    const installing = this.installing;
    const adopted = installing?.ids.has(frame.clientId) === true ? installing.done : Promise.resolve();
    adopted
      .then(() => broker.handOverSession(frame.clientId, frame.clean, (session) => this.node.window.leave(session, frame.from)))
      .catch((error: unknown) => this.node.logger.log('warning', `Cluster: handing over the session of ${frame.clientId} failed: ${error instanceof Error ? error.message : String(error)}.`))
      .finally(() => this.node.send(keys.data(frame.from), encodeHandedOverFrame(frame.clientId)));
  }

  onAnswer(clientId: string): void {
    this.waiting.get(clientId)?.();
  }

  /**
   * Takes over the persistent sessions of a dead node (those whose client has not connected
   * elsewhere), then delivers to them what its inbox holds. The sessions are read first and put
   * in place in one event-loop turn together with the dead node's removal from the route table
   * (gone, published before this node's new routes): no node routes a message to both the dead
   * node's inbox and the adopted sessions, nor to neither. Returns how many were adopted.
   */
  async adopt(dead: string, clientIds: readonly string[]): Promise<number> {
    const { link, broker, id } = this.node;
    const persistence = broker.persistence;
    const commands = link.commands;
    const loaded: LoadedSession[] = [];
    const ids = new Set<string>();
    let installed!: () => void;
    this.installing = { ids, done: new Promise<void>((resolve) => (installed = resolve)) };
    const adopted: Session[] = [];
    try {
      for (const clientId of clientIds) {
        if ((await commands.eval(ADOPT_CLIENT, 1, keys.clients, clientId, dead, id)) !== 1) continue;
        ids.add(clientId);
        const stored = await persistence?.loadStored(clientId);
        if (stored === undefined) await commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, id);
        else loaded.push(stored);
      }
      for (const stored of loaded) {
        const session = persistence?.install(broker, stored);
        if (session !== undefined) adopted.push(session);
      }
      if (dead !== id) this.node.dropNode(dead); // its own previous life: its routes are rewritten at the join
      for (const session of adopted) commands.sadd(keys.sessions(id), session.clientId).catch(() => undefined);
      // the sessions stay here until the inbox is replayed into them (a hand-over request waits)
      if (adopted.length > 0) await this.replayInbox(dead, adopted);
      else await commands.del(keys.inbox(dead));
    } finally {
      this.installing = undefined;
      installed();
    }
    return adopted.length;
  }

  /**
   * Delivers the batches other nodes left in the dead node's inbox to the adopted sessions only,
   * through a router that holds just their subscriptions (the same matching, QoS, No Local and
   * shared-group rules). Read twice: once now, once after a heartbeat for batches that were on
   * their way while the route table changed; then the inbox is deleted.
   */
  private async replayInbox(dead: string, sessions: readonly Session[]): Promise<void> {
    const commands = this.node.link.commands;
    const router = new Router(() => true);
    for (const session of sessions) {
      session.routeMark = -1; // the scratch mark of the cluster-wide router must not match this one's
      for (const subscription of session.subscriptions.values()) router.add(subscription);
    }
    const seen = new Set<string>();
    const replay = (batches: Record<string, Buffer>): void => {
      const now = Date.now();
      const fields = Object.keys(batches).filter((field) => !seen.has(field)).sort(byOriginThenSeq);
      for (const field of fields) {
        seen.add(field);
        decodeFrames(batches[field]!, (frame) => {
          if (frame.kind !== FrameKind.message || frame.message.isExpired(now)) return; // [MQTT-3.3.2-5]
          if (frame.target !== undefined) {
            // re-forwarded during a hand-over to the dead node: for that one session only
            const session = sessions.find((s) => s.clientId === frame.target);
            if (session !== undefined) deliverToSession(session, frame.message, now, frame.plain, frame.groups);
            return;
          }
          const groups = frame.groups;
          router.publish(frame.message, now, { plain: frame.plain, sharedAllowed: (g) => groups.some((ref) => ref.group === g.group && ref.topicFilter === g.topicFilter) });
        });
      }
    };
    replay(await commands.hgetallBuffer(keys.inbox(dead)));
    await sleep(this.heartbeatMs);
    replay(await commands.hgetallBuffer(keys.inbox(dead)));
    // this node's own inbox (its previous life's, adopted at the join) gets live batches too: only what was replayed goes
    if (dead === this.node.id) {
      if (seen.size > 0) await commands.hdel(keys.inbox(dead), ...seen);
    } else await commands.del(keys.inbox(dead));
    if (seen.size > 0) this.node.logger.log('notice', `Cluster: delivered ${seen.size} batches left for node ${dead} to its ${sessions.length} adopted sessions.`);
  }
}

/** Inbox fields are "origin-node:seq": per origin in sequence order, so per-publisher order holds. */
function byOriginThenSeq(a: string, b: string): number {
  const i = a.lastIndexOf(':');
  const j = b.lastIndexOf(':');
  const origin = a.slice(0, i).localeCompare(b.slice(0, j));
  return origin !== 0 ? origin : Number(a.slice(i + 1)) - Number(b.slice(j + 1));
}
