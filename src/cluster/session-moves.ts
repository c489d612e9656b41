// Persistent sessions moving between nodes, when the cluster keeps them in Redis (the Redis store):
//  - hand-over: before a node answers a CONNECT for a client id another node holds, it asks that
//    node to commit the session and let it go, and waits for the answer; a node that does not
//    answer is dead, and the node cleaning up after it adopts the session meanwhile;
//  - adoption: the node cleaning up after a dead node takes its persistent sessions from Redis, so
//    their subscriptions stay routed and messages keep queueing until their clients come back;
//  - inbox replay: QoS 1/2 batches sent to the dead node that it never confirmed are delivered to
//    the adopted sessions (inbox-replay.ts), so nothing a publisher had acknowledged is lost with
//    the node. A session a hand-over was bringing to the dead node (targeted frames in its inbox,
//    the session let go by the old node, never installed) is adopted too when no node holds its
//    client id, and its frames are forwarded to the node that does otherwise.
// See docs/CLUSTER.md, "Sessions in Redis".

import type { Session } from '../broker/session.js';
import type { LoadedSession } from '../store/port.js';
import { FrameKind, decodeFrames, encodeHandOverFrame, encodeHandedOverFrame, encodeMessageFrame, type HandOverFrame, type MessageFrame } from './frame.js';
import { InboxReplay } from './inbox-replay.js';
import { ADOPT_CLIENT, CLAIM_FREE_CLIENT, RELEASE_CLIENT, clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class SessionMoves {
  /** Hand-overs this node waits for, by client id. */
  private readonly waiting = new Map<string, () => void>();
  /** Client ids being adopted, and the end of their adoption (inbox replayed): a hand-over request waits for it. */
  private installing: { readonly ids: Set<string>; readonly done: Promise<void> } | undefined;
  /** While this node adopts its own previous sessions: the fields of its inbox whose deletion waits for the replay. */
  private ownInbox: Set<string> | undefined;

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
      // adopted here: the client waits for the inbox replay into its session (nothing of it sent before)
      if (holder === id) await this.adopting(clientId);
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

  /** While a session adopted here gets the dead node's inbox: resolves when that is over. */
  adopting(clientId: string): Promise<void> | undefined {
    return this.installing?.ids.has(clientId) === true ? this.installing.done : undefined;
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
    if (dead === id) this.ownInbox = new Set();
    const adopted: Session[] = [];
    try {
      const claim = async (clientId: string, free: boolean): Promise<void> => {
        let claimed = await commands.eval(ADOPT_CLIENT, 1, keys.clients, clientId, dead, id);
        if (claimed !== 1 && free) claimed = await commands.eval(CLAIM_FREE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, id, this.node.run);
        if (claimed !== 1) return;
        ids.add(clientId);
        const stored = await persistence?.loadStored(clientId);
        if (stored === undefined) await commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, id);
        else loaded.push(stored);
      };
      for (const clientId of clientIds) await claim(clientId, false);
      // sessions on their way to the dead node (a hand-over it had not finished): let go by their
      // old node, held by none (or by the dead node, its session set not written yet) unless
      // their client came back through another node meanwhile
      const arriving = await this.arriving(dead, clientIds);
      for (const clientId of arriving) await claim(clientId, true);
      for (const stored of loaded) {
        const session = persistence?.install(broker, stored);
        if (session !== undefined) adopted.push(session);
      }
      if (dead !== id) this.node.dropNode(dead); // its own previous life: its routes are rewritten at the join
      for (const session of adopted) commands.sadd(keys.sessions(id), session.clientId).catch(() => undefined);
      // the sessions stay here until the inbox is replayed into them (a hand-over request waits)
      if (adopted.length > 0 || arriving.length > 0) await this.replayInbox(dead, adopted);
      else await commands.del(keys.inbox(dead));
    } finally {
      // a replay that failed leaves the held fields in the inbox: replayed again should this node die
      this.ownInbox = undefined;
      this.installing = undefined;
      installed();
    }
    return adopted.length;
  }

  /**
   * Delivers the batches other nodes left in the dead node's inbox to the adopted sessions only,
   * once each and in front of what reached them live meanwhile (inbox-replay.ts). Read twice: once
   * now, once after a heartbeat for batches that were on their way while the route table changed;
   * then the inbox loses what was read, in the commit of the entries made from it.
   */
  private async replayInbox(dead: string, sessions: readonly Session[]): Promise<void> {
    const commands = this.node.link.commands;
    const replay = new InboxReplay(sessions);
    replay.read(await commands.hgetallBuffer(keys.inbox(dead)));
    await sleep(this.heartbeatMs);
    replay.read(await commands.hgetallBuffer(keys.inbox(dead)));
    // frames for sessions another node holds: into its inbox before they leave this one
    if (replay.elsewhere.length > 0) await this.forwardElsewhere(dead, replay.elsewhere);
    replay.finish(Date.now());
    if (dead === this.node.id) {
      // this node's own inbox (its previous life's) gets live batches too: only what was read goes,
      // and what reached the adopted sessions live, whose deletion waited for this commit
      const fields = new Set([...replay.fields, ...(this.ownInbox ?? [])]);
      this.ownInbox = undefined;
      if (fields.size > 0) this.node.commitWithSessions(['hdel', keys.inbox(dead), ...fields]);
    } else this.node.commitWithSessions(['del', keys.inbox(dead)]);
    if (replay.fields.size > 0) this.node.logger.log('notice', `Cluster: delivered ${replay.fields.size} batches left for node ${dead} to its ${sessions.length} adopted sessions.`);
  }

  /** The client ids a dead node's inbox has targeted frames for, other than those given: sessions a hand-over was bringing to it. */
  private async arriving(dead: string, clientIds: readonly string[]): Promise<string[]> {
    const known = new Set(clientIds);
    const targets = new Set<string>();
    for (const batch of Object.values(await this.node.link.commands.hgetallBuffer(keys.inbox(dead)))) {
      decodeFrames(batch, (frame) => {
        if (frame.kind === FrameKind.message && frame.target !== undefined && !known.has(frame.target)) targets.add(frame.target);
      });
    }
    return [...targets];
  }

  /**
   * Targeted frames for sessions not adopted here (their client came back through another node
   * before this clean-up): forwarded to the node holding each, through its inbox (as a hand-over's
   * old node re-forwards them), and waited for, so none leaves Redis with the dead node's inbox.
   */
  private async forwardElsewhere(dead: string, frames: readonly MessageFrame[]): Promise<void> {
    const commands = this.node.link.commands;
    const holders = new Map<string, string | null>();
    let forwarded = 0;
    for (const frame of frames) {
      const target = frame.target!;
      if (!holders.has(target)) holders.set(target, await commands.hget(keys.clients, target));
      const holder = holders.get(target);
      if (holder === null || holder === undefined || holder === dead) continue; // nobody holds it: no session to deliver to
      this.node.forwardTo(holder, encodeMessageFrame(frame.message, frame.plain, frame.groups, frame.id, target), frame.message.qos > 0);
      forwarded++;
    }
    await this.node.forwardBarrier();
    if (forwarded > 0) this.node.logger.log('notice', `Cluster: forwarded ${forwarded} messages left for node ${dead} to the nodes now holding their sessions.`);
  }

  /**
   * A batch on this node's data channel is stored (node.ts): while this node adopts its own
   * previous sessions, its inbox copy stays until the replay is over, so a batch that came before
   * the sessions were in place (and reached none of them) is replayed, not lost. True when held.
   */
  holdInboxDeletion(field: string): boolean {
    if (this.ownInbox === undefined) return false;
    this.ownInbox.add(field);
    return true;
  }
}
