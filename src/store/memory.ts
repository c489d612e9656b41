// The in-memory store: the broker's own state is the only copy, so nothing needs recording.
// Used when persistence is off (the default for the library and for `persistence false`).

import type { Store, StoredState } from './port.js';

export class MemoryStore implements Store {
  readonly durable = false;
  load(): Promise<StoredState> {
    return Promise.resolve({ sessions: [], retained: [], messages: [] });
  }
  retainedSet(): void {}
  retainedDelete(): void {}
  sessionSave(): void {}
  sessionDelete(): void {}
  subscriptionSet(): void {}
  subscriptionDelete(): void {}
  messageAdd(): void {}
  messageDelete(): void {}
  outgoingAdd(): void {}
  outgoingUpdate(): void {}
  outgoingDelete(): void {}
  incomingQos2Add(): void {}
  incomingQos2Delete(): void {}
  sync(): undefined {
    return undefined;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
