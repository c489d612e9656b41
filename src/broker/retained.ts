// Retained messages: the last retained message of each topic, looked up by subscription filter.
// A retained PUBLISH with an empty payload clears the topic [MQTT-3.3.1-10][MQTT-3.3.1-11].

import type { Message } from './message.js';
import { TopicTree } from './topic-tree.js';

export class RetainedMessages {
  private readonly tree = new TopicTree<Message>();
  /** Payload bytes held, kept as a running total for $SYS/broker/store/messages/bytes. */
  private payloadBytes = 0;

  get size(): number {
    return this.tree.size;
  }

  get bytes(): number {
    return this.payloadBytes;
  }

  /** Stores or clears the topic's retained message; returns true when the set changed. */
  update(message: Message): boolean {
    if (message.payload.length === 0) return this.remove(message.topic);
    const previous = this.tree.set(message.topic, message);
    this.payloadBytes += message.payload.length - (previous?.payload.length ?? 0);
    return true;
  }

  private remove(topic: string): boolean {
    const previous = this.tree.delete(topic);
    if (previous === undefined) return false;
    this.payloadBytes -= previous.payload.length;
    return true;
  }

  /** The retained messages a new subscription to filter receives, skipping expired ones [MQTT-3.3.2-5]. */
  matching(filter: string, now: number): Message[] {
    const found: Message[] = [];
    const expired: string[] = [];
    this.tree.forEachMatch(filter, (topic, message) => {
      if (message.isExpired(now)) expired.push(topic);
      else found.push(message);
    });
    for (const topic of expired) this.remove(topic);
    return found;
  }

  *all(): IterableIterator<Message> {
    for (const [, message] of this.tree.entries()) yield message;
  }
}
