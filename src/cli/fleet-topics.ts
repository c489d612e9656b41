// What the fleet commands (sensors, recorder, console) share: the topic options --data-topic,
// --config-topic, --status-topic, and the start of their main(): flags, --help, topics checked.

import { defaultTopics, topicPrefixProblem, type FleetTopics } from '../fleet/topics.js';
import { parseFlags, type FlagSpec, type Flags } from './long-flags.js';

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

/**
 * Parses a fleet command's arguments: its flags and checked topics, or the exit code once the usage
 * (--help, 0) or an error with the usage (1) is printed.
 */
export function fleetCommandArgs<T extends typeof topicFlags & { readonly help: { readonly kind: 'boolean' } } & Record<string, FlagSpec>>(
  command: string,
  argv: readonly string[],
  specs: T,
  usage: string,
): { flags: Flags<T>; topics: FleetTopics } | number {
  const fail = (message: string): number => {
    process.stderr.write(`culex ${command}: ${message}\n`);
    return 1;
  };
  const parsed = parseFlags(argv, specs);
  if (typeof parsed === 'string') return fail(`${parsed}\n\n${usage}`);
  if (parsed.positional.length > 0) return fail(`unexpected '${parsed.positional[0]}'\n\n${usage}`);
  const { flags } = parsed;
  if ((flags as Flags<{ help: { kind: 'boolean' } }>).help === true) {
    process.stdout.write(usage);
    return 0;
  }
  // (the generic flags do not narrow to the topic options' string type on their own)
  const topics = topicsFrom(flags as Flags<typeof topicFlags>);
  return typeof topics === 'string' ? fail(topics) : { flags, topics };
}
