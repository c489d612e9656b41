// A list filled and emptied on every call of a hot path (the sessions one PUBLISH goes to, the
// nodes it crosses to). Emptying an array with `length = 0` gives its backing store back to V8, so
// the next push allocates a new one, about 150 bytes per message; this list keeps its store and
// only lets go of the references it held.

export class ScratchList<T> {
  private readonly items: (T | undefined)[] = [];
  /** Items in the list: indexes 0 to count - 1. */
  count = 0;

  push(item: T): void {
    this.items[this.count++] = item;
  }

  get(index: number): T {
    return this.items[index] as T;
  }

  clear(): void {
    for (let i = 0; i < this.count; i++) this.items[i] = undefined;
    this.count = 0;
  }
}
