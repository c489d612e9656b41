// Retained messages: the last retained message of each topic, looked up by subscription filter.
// A retained PUBLISH with an empty payload clears the topic [MQTT-3.3.1-10][MQTT-3.3.1-11].

import type { Message } from './message.js';
import { TopicTree } from './topic-tree.js';

export class RetainedMessages {
  private readonly tree = new TopicTree<Message>();

  get size(): number {
    return this.tree.size;
  }

  /** Stores or clears the topic's retained message; returns true when the set changed. */
  update(message: Message): boolean {
    if (message.payload.length === 0) return this.tree.delete(message.topic) !== undefined;
    this.tree.set(message.topic, message);
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
    for (const topic of expired) this.tree.delete(topic);
    return found;
  }

  *all(): IterableIterator<Message> {
    for (const [, message] of this.tree.entries()) yield message;
  }
}
