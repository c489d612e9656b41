// When the retained messages that carry a Message Expiry Interval expire, so that one is removed on
// time even if no subscription ever asks for its topic again [MQTT-3.3.2-5]. Without this, an
// expired retained message left memory only when a new subscription matched it: a fleet whose
// devices retain a short-lived status each on its own topic, and then go away, kept them all.
//
// A binary min-heap of (expiry time, message). Replacing or clearing a topic's retained message
// does not search the heap: the old entry stays and is skipped when it comes out (the tree no
// longer holds that message). So that such stale entries cannot pile up (a topic retained every
// second with a day's expiry), the heap is rebuilt from the live messages once it holds more than
// twice as many entries as there are live expiring messages, plus some slack.

import type { Message } from './message.js';

/** Checks are at least this far apart, so that a burst of expiries is handled in one go. */
const MIN_INTERVAL_MS = 1000;
/** setTimeout's limit; a later expiry is re-armed when this one fires. */
const MAX_DELAY = 0x7fffffff;
const SLACK = 1024;

export class RetainedExpiry {
  private heap: Message[] = [];
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private stopped = false;

  /**
   * @param isCurrent whether the message is still its topic's retained message
   * @param expire removes an expired, current message
   * @param live the current retained messages that have an expiry, for a rebuild
   * @param liveCount how many there are
   */
  constructor(
    private readonly isCurrent: (message: Message) => boolean,
    private readonly expire: (message: Message) => void,
    private readonly live: () => Iterable<Message>,
    private readonly liveCount: () => number,
  ) {}

  /** Entries held, stale ones included (for tests). */
  get entries(): number {
    return this.heap.length;
  }

  /** A retained message with an expiry was stored. */
  add(message: Message): void {
    if (this.stopped || message.expiresAt === 0) return;
    if (this.heap.length >= 2 * this.liveCount() + SLACK) this.rebuild();
    else this.push(message);
    this.arm();
  }

  /** Removes every current message whose time has come; returns how many. */
  sweep(now: number): number {
    let removed = 0;
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.expiresAt <= now) {
      const message = this.pop();
      if (this.isCurrent(message)) {
        this.expire(message);
        removed++;
      }
    }
    return removed;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap = [];
  }

  private arm(): void {
    if (this.heap.length === 0) return;
    const due = Math.max(this.heap[0]!.expiresAt, Date.now() + MIN_INTERVAL_MS);
    if (this.timer !== undefined && this.dueAt <= due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(due - Date.now(), 0), MAX_DELAY));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.dueAt = Infinity;
    if (this.stopped) return;
    this.sweep(Date.now());
    this.arm();
  }

  private rebuild(): void {
    this.heap = [];
    for (const message of this.live()) this.push(message);
  }

  private push(message: Message): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(message);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.expiresAt <= message.expiresAt) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = message;
  }

  private pop(): Message {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && heap[right]!.expiresAt < heap[left]!.expiresAt ? right : left;
        if (heap[child]!.expiresAt >= last.expiresAt) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
