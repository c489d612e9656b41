// The traffic scenarios of the bench suite as plain shapes: which topics the publishers use, which
// filters the subscribers hold, and the streams (publisher → subscriber links) a message travels.
// The runner counts progress per stream, so one shape type serves fan-in, fan-out and pairs.

import type { QoS } from '../../src/protocol/packets.js';

export const SCENARIO_KINDS = ['fan-in', 'fan-out', 'pairs'] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export interface SubscriberShape {
  readonly filter: string;
  /** The publishers whose messages reach this subscriber, each with its stream's slot. */
  readonly streams: readonly { readonly publisher: number; readonly slot: number }[];
}

export interface Shape {
  readonly kind: ScenarioKind;
  /** Publisher i publishes on publisherTopics[i]. */
  readonly publisherTopics: readonly string[];
  readonly subscribers: readonly SubscriberShape[];
  /** Per publisher, the slots of its streams (one per subscriber it reaches). */
  readonly slotsByPublisher: readonly (readonly number[])[];
  readonly streamCount: number;
  /** Deliveries each message makes (the same for every publisher in these scenarios). */
  readonly deliveriesPerMessage: number;
  /** Most publishers any one subscriber hears: the window per publisher is shared among them. */
  readonly publishersPerSubscriber: number;
}

/** One scenario to run: its shape parameters and the load. */
export interface Scenario {
  readonly kind: ScenarioKind;
  /** Publishers (fan-in), subscribers (fan-out) or pairs (pairs). */
  readonly size: number;
  readonly qos: QoS;
  readonly payload: number;
  /** Offered rate of the fixed-rate phase: messages/s, all publishers together. */
  readonly rate: number;
}

/** The default sizes and fixed offered loads, after the table of figures measured in C. */
export function defaultScenario(kind: ScenarioKind, qos: QoS, payload: number): Scenario {
  switch (kind) {
    case 'fan-out':
      return { kind, size: 100, qos, payload, rate: qos === 0 ? 1000 : 100 }; // 100,000 or 10,000 deliveries/s
    case 'fan-in':
      return { kind, size: 10, qos, payload, rate: qos === 0 ? 30_000 : 10_000 };
    case 'pairs':
      return { kind, size: 100, qos, payload, rate: qos === 0 ? 30_000 : 10_000 };
  }
}

export const scenarioLabel = (s: Scenario): string => {
  const shape = s.kind === 'fan-out' ? `1→${s.size}` : s.kind === 'fan-in' ? `${s.size}→1` : `${s.size} pairs`;
  return `${s.kind} ${shape} QoS ${s.qos} ${s.payload} B`;
};

/**
 * The shape of a scenario under a topic prefix (unique per run, so retained messages or sessions of
 * another run cannot interfere). fan-in uses one `prefix/#` subscriber: a wildcard match per message.
 */
export function shapeOf(kind: ScenarioKind, size: number, prefix: string): Shape {
  const publisherTopics: string[] = [];
  const subscribers: SubscriberShape[] = [];
  const slotsByPublisher: number[][] = [];
  let slot = 0;
  switch (kind) {
    case 'fan-out': {
      publisherTopics.push(`${prefix}/t`);
      slotsByPublisher.push([]);
      for (let i = 0; i < size; i++) {
        subscribers.push({ filter: `${prefix}/t`, streams: [{ publisher: 0, slot }] });
        slotsByPublisher[0]!.push(slot++);
      }
      break;
    }
    case 'fan-in': {
      const streams: { publisher: number; slot: number }[] = [];
      for (let i = 0; i < size; i++) {
        publisherTopics.push(`${prefix}/${i}`);
        slotsByPublisher.push([slot]);
        streams.push({ publisher: i, slot: slot++ });
      }
      subscribers.push({ filter: `${prefix}/#`, streams });
      break;
    }
    case 'pairs': {
      for (let i = 0; i < size; i++) {
        publisherTopics.push(`${prefix}/${i}`);
        slotsByPublisher.push([slot]);
        subscribers.push({ filter: `${prefix}/${i}`, streams: [{ publisher: i, slot: slot++ }] });
      }
      break;
    }
  }
  return {
    kind,
    publisherTopics,
    subscribers,
    slotsByPublisher,
    streamCount: slot,
    deliveriesPerMessage: slot / publisherTopics.length,
    publishersPerSubscriber: Math.max(...subscribers.map((s) => s.streams.length)),
  };
}
