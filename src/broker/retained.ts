// Retained messages: the last retained message of each topic, looked up by subscription filter.
// A retained PUBLISH with an empty payload clears the topic [MQTT-3.3.1-10][MQTT-3.3.1-11].
// One with a Message Expiry Interval is removed when it expires (retained-expiry.ts), or when a
// subscription finds it expired, whichever comes first [MQTT-3.3.2-5].

import type { Message } from './message.js';
import { RetainedExpiry } from './retained-expiry.js';
import { TopicTree } from './topic-tree.js';

export class RetainedMessages {
  private readonly tree = new TopicTree<Message>();
  /** Payload bytes held, kept as a running total for $SYS/broker/store/messages/bytes. */
  private payloadBytes = 0;
  /** How many of the messages held have an expiry. */
  private expiringCount = 0;
  private readonly expiry = new RetainedExpiry(
    (message) => this.tree.get(message.topic) === message,
    (message) => this.expire(message),
    () => this.expiring(),
    () => this.expiringCount,
  );

  /** @param onExpired told of each message removed because it expired (the store forgets it too). */
  constructor(private readonly onExpired?: (message: Message) => void) {}

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
    if (previous !== undefined && previous.expiresAt !== 0) this.expiringCount--;
    if (message.expiresAt !== 0) {
      this.expiringCount++;
      this.expiry.add(message);
    }
    return true;
  }

  /** Removes the messages whose expiry has passed (the timer does this by itself; for tests and shutdown paths). */
  sweepExpired(now: number): number {
    return this.expiry.sweep(now);
  }

  /** Entries of the expiry index, stale ones included (tests check that it stays bounded). */
  get expiryIndexSize(): number {
    return this.expiry.entries;
  }

  /** Stops the expiry timer (the broker is closing). */
  stop(): void {
    this.expiry.stop();
  }

  private remove(topic: string): boolean {
    const previous = this.tree.delete(topic);
    if (previous === undefined) return false;
    this.payloadBytes -= previous.payload.length;
    if (previous.expiresAt !== 0) this.expiringCount--;
    return true;
  }

  /** Removes an expired message; the store is told to forget it too. */
  private expire(message: Message): void {
    this.remove(message.topic);
    this.onExpired?.(message);
  }

  private *expiring(): IterableIterator<Message> {
    for (const [, message] of this.tree.entries()) if (message.expiresAt !== 0) yield message;
  }

  /** The retained messages a new subscription to filter receives, skipping expired ones [MQTT-3.3.2-5]. */
  matching(filter: string, now: number): Message[] {
    const found: Message[] = [];
    const expired: Message[] = [];
    this.tree.forEachMatch(filter, (_topic, message) => {
      if (message.isExpired(now)) expired.push(message);
      else found.push(message);
    });
    for (const message of expired) this.expire(message);
    return found;
  }

  *all(): IterableIterator<Message> {
    for (const [, message] of this.tree.entries()) yield message;
  }
}
