// The fleet's topic names: readings on `<data>/<sensor>`, orders on `<config>/<sensor>` and
// `<config>/all`, retained status on `<status>/<sensor>`. The prefixes are configurable; the
// defaults are the ones the system was specified with.

export interface FleetTopics {
  /** Readings: `<data>/<sensor id>`. */
  readonly data: string;
  /** Orders: `<config>/<sensor id>` and `<config>/all`. */
  readonly config: string;
  /** Retained status: `<status>/<sensor id>`. */
  readonly status: string;
}

export const defaultTopics: FleetTopics = { data: 'sensor_data', config: 'config_change', status: 'sensor_status' };

/** The id that addresses every sensor at once on the config topic. */
export const ALL_SENSORS = 'all';

export const dataTopic = (topics: FleetTopics, sensor: string): string => `${topics.data}/${sensor}`;
export const configTopic = (topics: FleetTopics, sensor: string): string => `${topics.config}/${sensor}`;
export const statusTopic = (topics: FleetTopics, sensor: string): string => `${topics.status}/${sensor}`;

/** The sensor id a topic under `prefix/` names, or undefined when the topic is not one level below it. */
export function sensorOf(prefix: string, topic: string): string | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1);
  return rest.length === 0 || rest.includes('/') ? undefined : rest;
}

/**
 * A sensor id must be usable as one topic level and as an MQTT client id and username: letters,
 * digits, '-', '_' and '.', 1 to 64 characters, and not the reserved word "all".
 */
export function sensorIdProblem(id: string): string | undefined {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) return `invalid sensor id '${id}' (letters, digits, '.', '_' and '-', at most 64)`;
  if (id === ALL_SENSORS) return `'${ALL_SENSORS}' is reserved for orders to every sensor`;
  return undefined;
}

/** A topic prefix must be a plain topic name without wildcards. */
export function topicPrefixProblem(prefix: string): string | undefined {
  if (prefix.length === 0 || /[#+\u0000]/.test(prefix) || prefix.endsWith('/')) return `invalid topic prefix '${prefix}'`;
  return undefined;
}
