// A promise with its resolve and reject in hand: what a group commit gives every change it carries
// (the SQLite and Redis stores, the cluster's hand-off of messages), settled when the commit is.

export interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
