// N simulated sensors started together: ids `<prefix>01`, `<prefix>02`, …, kinds taken in turn
// (temperature, humidity, pressure, co2, light).

import type { SensorSettings } from './messages.js';
import { SimulatedSensor, defaultSettings } from './sensor.js';
import { signalKinds } from './signal.js';
import { defaultTopics, type FleetTopics } from './topics.js';

export interface FleetOptions {
  readonly count: number;
  readonly url: string;
  readonly idPrefix?: string;
  readonly topics?: FleetTopics;
  readonly settings?: SensorSettings;
  readonly qos?: 0 | 1;
  /** Each sensor's login; anonymous when undefined. */
  readonly credentials?: (id: string) => { readonly username: string; readonly password: string } | undefined;
  readonly report?: (sensor: string, message: string) => void;
}

export function sensorIds(count: number, prefix = 'sensor-'): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

export class SensorFleet {
  private constructor(readonly sensors: readonly SimulatedSensor[]) {}

  /** Connects every sensor; if one cannot connect, the others are stopped and the error is thrown. */
  static async start(options: FleetOptions): Promise<SensorFleet> {
    const sensors = sensorIds(options.count, options.idPrefix).map((id, i) => {
      const login = options.credentials?.(id);
      return new SimulatedSensor({
        id,
        url: options.url,
        username: login?.username,
        password: login?.password,
        topics: options.topics ?? defaultTopics,
        kind: signalKinds[i % signalKinds.length]!,
        settings: options.settings ?? defaultSettings,
        qos: options.qos ?? 1,
        report: options.report,
      });
    });
    const fleet = new SensorFleet(sensors);
    const started = await Promise.allSettled(sensors.map((sensor) => sensor.start()));
    const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) {
      await fleet.stop();
      throw failure.reason;
    }
    return fleet;
  }

  get(id: string): SimulatedSensor | undefined {
    return this.sensors.find((sensor) => sensor.id === id);
  }

  async stop(): Promise<void> {
    await Promise.all(this.sensors.map((sensor) => sensor.stop()));
  }
}
