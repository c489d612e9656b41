// The JSON the fleet exchanges, and strict parsers for what arrives from the network: a bad payload
// is a value (an error string), never an exception.

/** One reading, as published on `sensor_data/<id>`. */
export interface Reading {
  readonly sensor: string;
  /** When it was measured, milliseconds since 1970 (UTC). */
  readonly ts: number;
  readonly value: number;
  readonly unit: string;
  /** Counts up by one per reading of this sensor; (sensor, seq) identifies a reading. */
  readonly seq: number;
}

/** What an operator can change. */
export interface SensorSettings {
  /** Readings per second, 0.01 to 100. */
  readonly sampleRateHz: number;
  /** Gain on the measured variation, 0.1 to 10 (1 = calibrated). */
  readonly sensitivity: number;
  /** A disabled sensor stays connected and obeys orders but publishes no readings. */
  readonly enabled: boolean;
}

/** An order on `config_change/<id>` or `config_change/all`: any subset of the settings. */
export interface ConfigChange extends Partial<SensorSettings> {
  /** Optional request id, echoed in the status as `lastChange` once applied. */
  readonly id?: string;
}

/** Retained on `sensor_status/<id>`: the current settings, or the will's `online: false`. */
export interface SensorStatus extends Partial<SensorSettings> {
  readonly sensor: string;
  readonly online: boolean;
  readonly kind?: string;
  readonly unit?: string;
  /** When the current settings were applied (ms since 1970). */
  readonly appliedAt?: number;
  /** The `id` of the last order applied. */
  readonly lastChange?: string;
}

export const rateLimits = { min: 0.01, max: 100 } as const;
export const sensitivityLimits = { min: 0.1, max: 10 } as const;

function parseObject(payload: Buffer | string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** A reading from the network, or why it is not one. */
export function parseReading(payload: Buffer | string): Reading | string {
  const object = parseObject(payload);
  if (typeof object === 'string') return object;
  const { sensor, ts, value, unit, seq } = object;
  if (typeof sensor !== 'string' || sensor.length === 0) return 'missing "sensor"';
  if (!isFiniteNumber(ts) || ts < 0) return 'missing or invalid "ts"';
  if (!isFiniteNumber(value)) return 'missing or invalid "value"';
  if (typeof unit !== 'string') return 'missing "unit"';
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return 'missing or invalid "seq"';
  return { sensor, ts: Math.round(ts), value, unit, seq: seq as number };
}

/** An order from the network, or why it is refused. Unknown keys are refused too, to catch typos. */
export function parseConfigChange(payload: Buffer | string): ConfigChange | string {
  const object = parseObject(payload);
  if (typeof object === 'string') return object;
  const change: { -readonly [K in keyof ConfigChange]: ConfigChange[K] } = {};
  for (const [key, value] of Object.entries(object)) {
    switch (key) {
      case 'sampleRateHz':
        if (!isFiniteNumber(value) || value < rateLimits.min || value > rateLimits.max) return `sampleRateHz must be a number from ${rateLimits.min} to ${rateLimits.max}`;
        change.sampleRateHz = value;
        break;
      case 'sensitivity':
        if (!isFiniteNumber(value) || value < sensitivityLimits.min || value > sensitivityLimits.max) return `sensitivity must be a number from ${sensitivityLimits.min} to ${sensitivityLimits.max}`;
        change.sensitivity = value;
        break;
      case 'enabled':
        if (typeof value !== 'boolean') return 'enabled must be true or false';
        change.enabled = value;
        break;
      case 'id':
        if (typeof value !== 'string' || value.length > 128) return 'id must be a string of at most 128 characters';
        change.id = value;
        break;
      default:
        return `unknown setting "${key}"`;
    }
  }
  return change;
}

export function applyChange(settings: SensorSettings, change: ConfigChange): SensorSettings {
  return {
    sampleRateHz: change.sampleRateHz ?? settings.sampleRateHz,
    sensitivity: change.sensitivity ?? settings.sensitivity,
    enabled: change.enabled ?? settings.enabled,
  };
}
