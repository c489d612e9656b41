// Read fairness between connections. libuv reads a readable socket up to 32 times 64 KiB in one
// go, so ten publishers flooding as fast as TCP allows would hand the event loop megabytes each
// per turn, and a new client would wait seconds for its CONNACK (measured: 3–5 s under a 10 × QoS 0
// flood). A connection that has read its budget in this turn pauses and resumes on the next turn
// (setImmediate runs after the poll phase), so every socket, the listening one included, gets its
// turn. Two budgets: bytes read, and packets handled, since the work is per packet: one 64 KiB
// chunk holds 2,600 PUBLISH packets of 16 bytes, and ten such chunks made turns of about 20 ms
// (a new client's CONNACK waited 16–23 ms at the median under the flood). The budgets are large
// enough that a lone fast publisher loses nothing measurable to them.

export interface ReadThrottled {
  /** Called on the next turn: reset the budget and read again. */
  readTurn(): void;
}

class ReadTurns {
  /** Bytes a connection may read per event-loop turn before it yields. */
  readonly budget = 64 * 1024;
  /** Packets a connection may hand to the broker per event-loop turn before it yields; the rest of its chunk waits. */
  readonly packets = 256;
  /** Milliseconds one connection's packets may take in one go (from its 32nd packet) before it yields. */
  readonly sliceMs = 0.5;
  /** How many times a connection yielded, for tests and the curious. */
  yields = 0;
  /** Counts event-loop turns (those that had to be told apart, below); a connection's budget is per turn. */
  private turn = 0;
  private turnEndScheduled = false;
  private readonly endTurn = (): void => {
    this.turn++;
    this.turnEndScheduled = false;
  };
  private waiting: ReadThrottled[] = [];
  private scheduled = false;
  private readonly nextTurn = (): void => {
    const waiting = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    for (let i = 0; i < waiting.length; i++) waiting[i]!.readTurn();
  };

  /** The number of the current turn, as far as budgets are concerned (see markBusy). */
  get currentTurn(): number {
    return this.turn;
  }

  /**
   * A connection has spent a quarter of a budget: the turn number moves on when this turn ends
   * (setImmediate), so it starts the next turn with its whole budget. Only then: a setImmediate in
   * every turn that read anything cost each lone PUBACK a second trip through the check phase,
   * while a connection that reads a little in each of many turns still never yields, since the
   * number moves on before a quarter becomes the whole.
   */
  markBusy(): void {
    if (!this.turnEndScheduled) {
      this.turnEndScheduled = true;
      setImmediate(this.endTurn);
    }
  }

  defer(connection: ReadThrottled): void {
    this.yields++;
    this.waiting.push(connection);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.nextTurn);
    }
  }
}

export const readTurns = new ReadTurns();
