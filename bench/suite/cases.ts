// The cases a suite run is made of (traffic scenarios, connection capacity, the QoS 0 flood), the
// settings they share, and running one case against one started broker.

import type { QoS } from '../../src/protocol/packets.js';
import type { RunningTarget } from '../fanout/targets.js';
import { runConnections, type ConnectionsResult } from './connections.js';
import { runFlood, type FloodResult } from './flood.js';
import { defaultScenario, scenarioLabel, SCENARIO_KINDS, type Scenario, type ScenarioKind } from './scenario.js';
import { runTraffic, type TrafficOptions, type TrafficResult } from './traffic.js';

export const CASE_KINDS = [...SCENARIO_KINDS, 'connections', 'flood'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

export type Case = { readonly kind: 'traffic'; readonly scenario: Scenario } | { readonly kind: 'connections' } | { readonly kind: 'flood' };

export interface SuiteSettings extends TrafficOptions {
  readonly kinds: readonly CaseKind[];
  readonly qos: readonly QoS[];
  readonly payloads: readonly number[];
  /** Overrides of every traffic scenario's size and offered rate. */
  readonly size: number | undefined;
  readonly rate: number | undefined;
  readonly connections: number;
  readonly connectConcurrency: number;
  readonly floodSeconds: number;
  readonly floodPublishers: number;
}

export type CaseResult =
  | { readonly kind: 'traffic'; readonly scenario: Scenario; readonly result: TrafficResult }
  | { readonly kind: 'connections'; readonly result: ConnectionsResult }
  | { readonly kind: 'flood'; readonly result: FloodResult; readonly publishers: number; readonly payload: number };

/** Every case of the settings, in a stable order: the traffic matrix, then connections, then the flood. */
export function casesOf(settings: SuiteSettings): Case[] {
  const cases: Case[] = [];
  for (const kind of settings.kinds) {
    if (kind === 'connections' || kind === 'flood') continue;
    for (const qos of settings.qos) {
      for (const payload of settings.payloads) {
        const base = defaultScenario(kind as ScenarioKind, qos, payload);
        cases.push({ kind: 'traffic', scenario: { ...base, size: settings.size ?? base.size, rate: settings.rate ?? base.rate } });
      }
    }
  }
  if (settings.kinds.includes('connections')) cases.push({ kind: 'connections' });
  if (settings.kinds.includes('flood')) cases.push({ kind: 'flood' });
  return cases;
}

export const caseLabel = (c: Case | CaseResult): string =>
  c.kind === 'traffic' ? scenarioLabel(c.scenario) : c.kind === 'connections' ? 'idle connections' : 'QoS 0 flood';

export async function runCase(target: RunningTarget, c: Case, settings: SuiteSettings): Promise<CaseResult> {
  switch (c.kind) {
    case 'traffic':
      return { kind: 'traffic', scenario: c.scenario, result: await runTraffic(target, c.scenario, settings) };
    case 'connections':
      return {
        kind: 'connections',
        result: await runConnections(target, {
          connections: settings.connections,
          concurrency: settings.connectConcurrency,
          timeoutMs: Math.max(30_000, settings.connections * 5),
        }),
      };
    case 'flood': {
      const payload = 16;
      const result = await runFlood(target, {
        publishers: settings.floodPublishers,
        payload,
        seconds: settings.floodSeconds,
        probeIntervalMs: 200,
        timeoutMs: settings.timeoutMs,
      });
      return { kind: 'flood', result, publishers: settings.floodPublishers, payload };
    }
  }
}
