// The fleet's topic names: readings on `<data>/<sensor>`, orders on `<config>/<sensor>` and
// `<config>/all`, retained status on `<status>/<sensor>`. The prefixes are configurable; the
// defaults are the ones the system was specified with.

// The id rule and the reserved id "all" live with the sensor's dynamic-security role, in plain
// JavaScript that the console page loads too.
export { ALL_SENSORS, sensorIdProblem } from './console-web/sensor-role.js';

export interface FleetTopics {
  /** Readings: `<data>/<sensor id>`. */
  readonly data: string;
  /** Orders: `<config>/<sensor id>` and `<config>/all`. */
  readonly config: string;
  /** Retained status: `<status>/<sensor id>`. */
  readonly status: string;
}

export const defaultTopics: FleetTopics = { data: 'sensor_data', config: 'config_change', status: 'sensor_status' };

export const dataTopic = (topics: FleetTopics, sensor: string): string => `${topics.data}/${sensor}`;
export const configTopic = (topics: FleetTopics, sensor: string): string => `${topics.config}/${sensor}`;
export const statusTopic = (topics: FleetTopics, sensor: string): string => `${topics.status}/${sensor}`;

/** The sensor id a topic under `prefix/` names, or undefined when the topic is not one level below it. */
export function sensorOf(prefix: string, topic: string): string | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1);
  return rest.length === 0 || rest.includes('/') ? undefined : rest;
}

/** A topic prefix must be a plain topic name without wildcards. */
export function topicPrefixProblem(prefix: string): string | undefined {
  if (prefix.length === 0 || /[#+\u0000]/.test(prefix) || prefix.endsWith('/')) return `invalid topic prefix '${prefix}'`;
  return undefined;
}
