// The bench message payload, shared by the publisher and the subscriber threads. The rest of the
// payload (up to --payload bytes) is zero.
//   bytes 0–7   send time, process.hrtime.bigint() (CLOCK_MONOTONIC: one clock for every thread and
//               process of the machine), little-endian
//   bytes 8–11  sequence number, uint32 little-endian, increasing over the whole run
//   byte  12    phase: which measurement the message belongs to
//   bytes 13–14 publisher index, uint16 little-endian (the scenario suite: fan-in and pairs have several
//               publishers, each with its own sequence)

export const SENT_AT_OFFSET = 0;
export const SEQUENCE_OFFSET = 8;
export const PHASE_OFFSET = 12;
export const PUBLISHER_OFFSET = 13;
export const MIN_PAYLOAD = 15;

export const Phase = {
  /** Published until every subscriber has one: the subscriptions are in place. */
  probe: 0,
  /** Saturation: as fast as the window allows; counted, not timed. */
  throughput: 1,
  /** Fixed offered rate: every delivery's one-way latency is recorded. */
  latency: 2,
} as const;
