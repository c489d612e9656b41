// Packet identifiers for a session's outgoing QoS 1/2 messages: 1..65535, never one in use
// [MQTT-2.2.1-3]. Allocation walks forward from the last id, so ids are not reused right away.

export class PacketIdAllocator {
  private last = 0;

  /** The next free id; `inUse` holds the ids still in flight (at most 65535 by the receive maximum). */
  next(inUse: ReadonlyMap<number, unknown>): number {
    let id = this.last;
    for (let tries = 0; tries < 65535; tries++) {
      id = id === 65535 ? 1 : id + 1;
      if (!inUse.has(id)) {
        this.last = id;
        return id;
      }
    }
    throw new Error('no free packet identifier: 65535 messages in flight');
  }

  reset(): void {
    this.last = 0;
  }
}
