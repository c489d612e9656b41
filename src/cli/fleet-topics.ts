// The topic options the fleet commands share: --data-topic, --config-topic, --status-topic.

import { defaultTopics, topicPrefixProblem, type FleetTopics } from '../fleet/topics.js';
import type { FlagSpec } from './long-flags.js';

export const topicFlags = {
  'data-topic': { kind: 'string' },
  'config-topic': { kind: 'string' },
  'status-topic': { kind: 'string' },
} as const satisfies Record<string, FlagSpec>;

export const topicUsage = ` --data-topic T    readings prefix (default ${defaultTopics.data}): T/<sensor id>
 --config-topic T  orders prefix (default ${defaultTopics.config}): T/<sensor id> and T/all
 --status-topic T  retained status prefix (default ${defaultTopics.status}): T/<sensor id>`;

export function topicsFrom(flags: { 'data-topic'?: string; 'config-topic'?: string; 'status-topic'?: string }): FleetTopics | string {
  const topics: FleetTopics = {
    data: flags['data-topic'] ?? defaultTopics.data,
    config: flags['config-topic'] ?? defaultTopics.config,
    status: flags['status-topic'] ?? defaultTopics.status,
  };
  for (const prefix of [topics.data, topics.config, topics.status]) {
    const problem = topicPrefixProblem(prefix);
    if (problem !== undefined) return problem;
  }
  return topics;
}
