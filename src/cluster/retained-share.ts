// Retained messages shared by the nodes: kept in culex:retained (topic → message frame) and
// announced on culex:retained-changes, so each node applies them to its own copy, from which new
// subscriptions are served as on a single broker. A message with an expiry also has it in the
// expiry set, written in the same MULTI, for the sweep that removes it once expired (retained-sweep.ts).

import type { Message } from '../broker/message.js';
import { FrameKind, decodeFrames, encodeMessageFrame } from './frame.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

/** Deletes a retained message only if it is still the one read (not replaced meanwhile by a newer one). */
const DELETE_IF_SAME = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1]) return 1 end return 0";

export class RetainedShare {
  /** Changes made on this node while Redis was away, by topic: written before the copy is read back. */
  private readonly unsent = new Map<string, Message>();

  constructor(private readonly node: ClusterNode) {}

  /** A retained message was stored or cleared on this node: into Redis, and announced. */
  changed(message: Message): void {
    const { link, id } = this.node;
    if (message.topic.startsWith('$SYS')) return;
    if (!link.isUp) {
      this.unsent.set(message.topic, message); // the resync writes it
      return;
    }
    const frame = encodeMessageFrame(message, false, undefined);
    const commands = link.commands;
    const failed = (): void => undefined;
    // one MULTI (one slot): the sweep never sees a message without its expiry, or the other way round
    const write = commands.multi();
    if (message.payload.length === 0) write.hdel(keys.retained, message.topic);
    else write.hset(keys.retained, message.topic, frame);
    if (message.payload.length > 0 && message.expiresAt !== 0) write.zadd(keys.retainedExpiry, message.expiresAt, message.topic);
    else write.zrem(keys.retainedExpiry, message.topic);
    write.exec().catch(failed);
    const sender = Buffer.from(id, 'utf8');
    const header = Buffer.allocUnsafe(2);
    header.writeUInt16BE(sender.length, 0);
    commands.publish(keys.retainedChanges, Buffer.concat([header, sender, frame])).catch(failed);
  }

  /** A change announced by a node (node id + frame); returns what is wrong with a bad one. */
  received(data: Buffer): string | undefined {
    if (data.length < 2) return 'too short';
    const idLength = data.readUInt16BE(0);
    if (data.toString('utf8', 2, 2 + idLength) === this.node.id) return undefined;
    return decodeFrames(data.subarray(2 + idLength), (frame) => {
      if (frame.kind === FrameKind.message) this.node.broker.retained.update(frame.message);
    });
  }

  /**
   * At join and after an outage: writes what changed here meanwhile, then reads every retained
   * message, or writes this node's copy back if Redis lost them (restarted empty or flushed).
   */
  async load(): Promise<void> {
    const { link, broker } = this.node;
    const commands = link.commands;
    const lost = broker.retained.size > 0 && (await commands.exists(keys.retained)) === 0;
    const unsent = [...this.unsent.values()];
    this.unsent.clear();
    for (const message of unsent) this.changed(message); // sent before the read below, on the same connection
    if (lost) {
      const now = Date.now();
      for (const message of broker.retained.all()) if (!message.topic.startsWith('$SYS') && !message.isExpired(now)) this.changed(message);
      return;
    }
    const stored = await commands.hgetallBuffer(keys.retained);
    const now = Date.now();
    for (const [topic, bytes] of Object.entries(stored)) {
      decodeFrames(bytes, (frame) => {
        if (frame.kind !== FrameKind.message) return;
        if (!frame.message.isExpired(now)) broker.retained.update(frame.message);
        // the sweep removes it, unless an older node stored it without its expiry in the set
        else commands.eval(DELETE_IF_SAME, 2, keys.retained, keys.retainedExpiry, topic, bytes).catch(() => undefined);
      });
    }
  }
}
