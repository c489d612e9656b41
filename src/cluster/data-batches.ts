// The batches other nodes send on this node's data channel (forwarder.ts): their frames routed as a
// local PUBLISH would be, hand-over frames passed to session-moves.ts, and each QoS 1/2 batch's
// copy in this node's inbox deleted in step with the session entries made from it, or kept while
// some of its frames wait (a session arriving here, a re-forward not yet answered). Split out of
// node.ts, which owns the subscription and the rest of the node.

import type { Broker } from '../broker/broker.js';
import type { RouteScope } from '../broker/router.js';
import type { Command } from '../store/redis.js';
import { FrameKind, decodeFrames, encodeMessageFrame, type Frame, type MessageFrame } from './frame.js';
import type { Forwarder } from './forwarder.js';
import type { HandOverWindow } from './hand-over-window.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterStats } from './node.js';
import type { SessionMoves } from './session-moves.js';

const PLAIN_ONLY: RouteScope = { plain: true, sharedAllowed: () => false };

/** A frame waiting for a session arriving here, as its batch's rewritten inbox copy holds it. */
const encodeTargeted = (f: MessageFrame): Buffer => encodeMessageFrame(f.message, f.plain, f.groups, f.id, f.target);

/** What the batches need of their node. */
export interface BatchesNode {
  readonly id: string;
  readonly broker: Broker;
  readonly stats: ClusterStats;
  readonly window: HandOverWindow;
  badFrame(why: string): void;
  commitWithSessions(command: Command): void;
}

export class DataBatches {
  constructor(
    private readonly node: BatchesNode,
    private readonly moves: SessionMoves,
    private readonly forwarder: Forwarder,
  ) {}

  /** One batch from the data channel. */
  received(data: Buffer): void {
    this.node.stats.receivedBatches++;
    // the inbox frame comes first in a batch (forwarder.ts)
    let inboxField: string | undefined;
    let waiting: MessageFrame[] | undefined;
    let routed = false;
    const window = this.node.window;
    // a session let go from here: the frames re-forwarded to its new node are collected
    if (window.leaving) window.reforwarded = [];
    const error = decodeFrames(data, (frame) => {
      if (frame.kind === FrameKind.inbox) inboxField = frame.field;
      else if (this.onFrame(frame, inboxField)) (waiting ??= []).push(frame as MessageFrame);
      else routed ||= frame.kind === FrameKind.message;
    });
    const reforwarded = window.reforwarded;
    window.reforwarded = undefined;
    if (error !== undefined) this.node.badFrame(`data channel: ${error}`);
    if (inboxField === undefined) return;
    if (reforwarded !== undefined && reforwarded.length > 0) return this.reforwardedFrom(inboxField, waiting, reforwarded);
    if (waiting === undefined) return this.inboxStored(inboxField);
    // targeted frames wait for their session (hand-over-window.ts): the inbox keeps them until
    // it is installed, and only them once the rest of the batch is in the sessions
    if (routed) this.node.commitWithSessions(['hset', keys.inbox(this.node.id), inboxField, Buffer.concat(waiting.map(encodeTargeted))]);
  }

  /**
   * The batch's messages are in this node's sessions: its inbox copy goes in the same commit as
   * they (one MULTI on a single server), so a node dying in between cannot leave a copy behind
   * that the adopting node would deliver a second time, nor lose one it has not stored.
   */
  inboxStored(field: string): void {
    if (this.moves.holdInboxDeletion(field)) return; // adopting its own previous sessions: after the replay
    this.node.commitWithSessions(['hdel', keys.inbox(this.node.id), field]);
  }

  /**
   * A batch some of whose frames were re-forwarded to a session's new node (hand-over-window.ts):
   * their writes to its inbox go on the forwarder's connection, this inbox's on the store's, and
   * Redis may apply the two in either order. In the commit of the entries made from the batch its
   * copy is rewritten to hold only those frames (targeted: a replay of this inbox after this node's
   * death forwards them to the node holding the session, inbox-replay.ts) and any still waiting
   * for a session arriving here; it goes once the forwarder's barrier resolves (and those arrive).
   * A failed forward leaves it in the inbox.
   */
  private reforwardedFrom(field: string, waiting: readonly MessageFrame[] | undefined, reforwarded: readonly Buffer[]): void {
    const kept = waiting === undefined ? reforwarded : [...waiting.map(encodeTargeted), ...reforwarded];
    this.node.commitWithSessions(['hset', keys.inbox(this.node.id), field, Buffer.concat(kept)]);
    const barrier = this.forwarder.barrier();
    if (barrier === undefined) return; // not sent (Redis away): the copy stays
    const window = this.node.window;
    window.hold(field);
    barrier.then(
      () => window.release(field),
      () => undefined,
    );
  }

  /** One frame from the data channel (field: its batch's inbox field); true when it waits for a session arriving here. */
  private onFrame(frame: Frame, field: string | undefined): boolean {
    if (frame.kind === FrameKind.takeover) {
      this.node.stats.takeovers++;
      this.node.broker.takenOverRemotely(frame.clientId, frame.clean);
      return false;
    }
    if (frame.kind === FrameKind.handOver) {
      this.moves.onRequest(frame);
      return false;
    }
    if (frame.kind === FrameKind.handedOver) {
      this.moves.onAnswer(frame.clientId);
      return false;
    }
    if (frame.kind === FrameKind.inbox || frame.kind === FrameKind.willOwner) return false; // a will's owner only travels inside a stored will
    this.node.stats.receivedMessages++;
    if (frame.target !== undefined) return this.node.window.targeted(frame, frame.target, field);
    const now = Date.now();
    const message = frame.message;
    if (message.isExpired(now)) return false; // [MQTT-3.3.2-5]
    const groups = frame.groups;
    const scope: RouteScope =
      groups.length === 0
        ? frame.plain
          ? PLAIN_ONLY
          : { plain: false, sharedAllowed: () => false }
        : { plain: frame.plain, sharedAllowed: (g) => groups.some((ref) => ref.group === g.group && ref.topicFilter === g.topicFilter) };
    // a live hand-over's window (hand-over-window.ts): a session arrived here may have had this
    // message already through the node that let it go; sessions let go from here get it re-forwarded
    const had = this.node.window.recording ? this.node.window.received(frame) : undefined;
    this.node.broker.router.publish(message, now, scope, had);
    if (this.node.window.leaving) this.node.window.routed(message, frame.id, frame.plain, (group, topicFilter) => groups.some((ref) => ref.group === group && ref.topicFilter === topicFilter));
    return false;
  }
}
