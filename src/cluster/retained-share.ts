// Retained messages shared by the nodes: kept in culex:retained (topic → message frame) and
// announced on culex:retained-changes, so each node applies them to its own copy, from which new
// subscriptions are served as on a single broker.

import type { Message } from '../broker/message.js';
import { FrameKind, decodeFrames, encodeMessageFrame } from './frame.js';
import { clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

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
    if (message.payload.length === 0) commands.hdel(keys.retained, message.topic).catch(failed);
    else commands.hset(keys.retained, message.topic, frame).catch(failed);
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
    const topics = Object.keys(stored);
    for (const topic of topics) {
      decodeFrames(stored[topic]!, (frame) => {
        if (frame.kind !== FrameKind.message) return;
        if (frame.message.isExpired(Date.now())) void commands.hdel(keys.retained, topic).catch(() => undefined);
        else broker.retained.update(frame.message);
      });
    }
  }
}
