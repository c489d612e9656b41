// Simulated sensors against a real broker, watched by an MQTT.js client: readings, orders applied at
// once (to one sensor or all), the retained status and the will.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { ClientIdentity } from '../../src/auth/port.js';
import { parseConfigChange, parseReading, type Reading, type SensorStatus } from '../../src/fleet/messages.js';
import { SensorFleet, sensorIds } from '../../src/fleet/sensor-fleet.js';
import { Signal, signalKinds } from '../../src/fleet/signal.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { startCulexCommand } from '../helpers/fleet.js';
import { Inbox } from '../helpers/mqttjs.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let broker: TestBroker;
/** Which client id published on which topic, as the broker saw it. */
const publishers = new Map<string, Set<string>>();

before(async () => {
  broker = await startBroker({
    authorizer: {
      canPublish: (client: ClientIdentity, topic: string) => {
        if (!publishers.has(topic)) publishers.set(topic, new Set());
        publishers.get(topic)!.add(client.clientId);
        return true;
      },
      canSubscribe: (_client, _filter, qos) => qos,
      canReceive: () => true,
    },
  });
});
after(() => broker.close());

async function watcher(filter: string | string[]): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = await mqtt.connectAsync(broker.url);
  const inbox = new Inbox(client);
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, inbox };
}

/** Waits for the next message on `topic` matching `accept`, skipping others. */
async function nextMatching(inbox: Inbox, accept: (topic: string, payload: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await inbox.next(Math.max(1, deadline - Date.now()));
    if (accept(message.topic, message.payload)) return message.payload;
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('simulated sensors', () => {
  test('ids, signals: noise and drift stay near the baseline; sensitivity scales the departure', () => {
    assert.deepEqual(sensorIds(3), ['sensor-01', 'sensor-02', 'sensor-03']);
    assert.equal(sensorIds(100)[99], 'sensor-100');
    const temperature = signalKinds[0]!;
    const signal = new Signal(temperature);
    const values = Array.from({ length: 600 }, (_, i) => signal.sample(i * 1000, 1));
    assert.ok(values.every((v) => Math.abs(v - temperature.baseline) < 10), 'bounded');
    assert.ok(new Set(values).size > 100, 'not constant');
    // Same random source, gain 3: three times the departure from the baseline.
    const seeded = (): (() => number) => {
      let state = 42;
      return () => ((state = (state * 1103515245 + 12345) % 2 ** 31), state / 2 ** 31);
    };
    const one = new Signal(temperature, seeded());
    const three = new Signal(temperature, seeded());
    for (let t = 0; t < 20_000; t += 500) {
      const a = one.sample(t, 1) - temperature.baseline;
      const b = three.sample(t, 3) - temperature.baseline;
      assert.ok(Math.abs(b - 3 * a) < 0.05, `${b} vs 3 × ${a}`);
    }
  });

  test('orders are parsed strictly: ranges, types and unknown keys are refused with a reason', () => {
    assert.deepEqual(parseConfigChange('{"sampleRateHz": 2, "sensitivity": 1.5, "enabled": false}'), { sampleRateHz: 2, sensitivity: 1.5, enabled: false });
    assert.deepEqual(parseConfigChange('{"id": "c1", "enabled": true}'), { id: 'c1', enabled: true });
    assert.match(parseConfigChange('{"sampleRateHz": 0}') as string, /sampleRateHz must be/);
    assert.match(parseConfigChange('{"sampleRateHz": "5"}') as string, /sampleRateHz must be/);
    assert.match(parseConfigChange('{"sensitivity": 99}') as string, /sensitivity must be/);
    assert.match(parseConfigChange('{"enabled": 1}') as string, /enabled must be/);
    assert.match(parseConfigChange('{"rate": 1}') as string, /unknown setting "rate"/);
    assert.equal(parseConfigChange('[1]'), 'not a JSON object');
    assert.equal(parseConfigChange('{'), 'not JSON');
    assert.equal(parseReading('{"sensor":"a","ts":1,"value":2,"unit":"u","seq":-1}'), 'missing or invalid "seq"');
  });

  test('each sensor is its own client (client id = sensor id) publishing {sensor, ts, value, unit, seq} on sensor_data/<id>, seq counting up', async () => {
    const { client, inbox } = await watcher('sensor_data/#');
    const fleet = await SensorFleet.start({ count: 2, url: broker.url, idPrefix: 'pub-', settings: { sampleRateHz: 20, sensitivity: 1, enabled: true } });
    try {
      const readings: Reading[] = [];
      while (readings.length < 20) {
        const message = await inbox.next(10_000);
        const reading = parseReading(message.payload);
        assert.notEqual(typeof reading, 'string', message.payload);
        assert.equal(message.topic, `sensor_data/${(reading as Reading).sensor}`);
        assert.deepEqual(Object.keys(JSON.parse(message.payload)).sort(), ['sensor', 'seq', 'ts', 'unit', 'value']);
        readings.push(reading as Reading);
      }
      for (const id of ['pub-01', 'pub-02']) {
        const own = readings.filter((r) => r.sensor === id);
        assert.ok(own.length >= 2, id);
        own.forEach((r, i) => i > 0 && assert.equal(r.seq, own[i - 1]!.seq + 1));
        assert.deepEqual([...publishers.get(`sensor_data/${id}`)!], [id]);
      }
      assert.equal(readings.find((r) => r.sensor === 'pub-01')!.unit, '°C');
      assert.equal(readings.find((r) => r.sensor === 'pub-02')!.unit, '%');
    } finally {
      await fleet.stop();
      await client.endAsync();
    }
  });

  test('an order on config_change/<id> is applied at once and echoed in the retained sensor_status/<id>; config_change/all reaches every sensor', async () => {
    const fleet = await SensorFleet.start({ count: 2, url: broker.url, idPrefix: 'cfg-', settings: { sampleRateHz: 1, sensitivity: 1, enabled: true } });
    const { client, inbox } = await watcher(['sensor_status/#', 'sensor_data/cfg-01']);
    try {
      await client.publishAsync('config_change/cfg-01', JSON.stringify({ sampleRateHz: 20, sensitivity: 2, id: 'order-1' }), { qos: 1 });
      const status = JSON.parse(await nextMatching(inbox, (topic, payload) => topic === 'sensor_status/cfg-01' && payload.includes('order-1'))) as SensorStatus;
      assert.equal(status.online, true);
      assert.equal(status.sampleRateHz, 20);
      assert.equal(status.sensitivity, 2);
      assert.equal(status.enabled, true);
      assert.equal(status.kind, 'temperature');
      assert.equal(fleet.get('cfg-02')!.settings.sampleRateHz, 1, 'the other sensor is untouched');
      // The new rate holds from now on, not after the old 1 s period: 10 readings come 50 ms apart.
      const ts: number[] = [];
      while (ts.length < 10) ts.push((JSON.parse(await nextMatching(inbox, (topic) => topic === 'sensor_data/cfg-01')) as Reading).ts);
      const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
      assert.ok(median(gaps) < 500, `readings ${gaps.join(', ')} ms apart`);

      await client.publishAsync('config_change/all', JSON.stringify({ enabled: false, id: 'order-2' }), { qos: 1 });
      for (const id of ['cfg-01', 'cfg-02']) {
        const applied = JSON.parse(await nextMatching(inbox, (topic, payload) => topic === `sensor_status/${id}` && payload.includes('order-2'))) as SensorStatus;
        assert.equal(applied.enabled, false);
      }
      assert.equal(fleet.get('cfg-01')!.settings.sampleRateHz, 20, 'settings not named are kept');
      const before = fleet.get('cfg-01')!.published;
      await sleep(600);
      assert.equal(fleet.get('cfg-01')!.published, before, 'a disabled sensor publishes nothing');

      // A bad order changes nothing.
      await client.publishAsync('config_change/cfg-02', '{"sampleRateHz": -1}', { qos: 1 });
      await sleep(300);
      assert.deepEqual(fleet.get('cfg-02')!.settings, { sampleRateHz: 1, sensitivity: 1, enabled: false });
    } finally {
      await fleet.stop();
      await client.endAsync();
    }
  });

  test('the status is retained with online true; a clean stop and a crash (the will) both leave online false', async () => {
    const fleet = await SensorFleet.start({ count: 1, url: broker.url, idPrefix: 'life-' });
    const late = await watcher('sensor_status/life-01');
    const retained = JSON.parse(await nextMatching(late.inbox, () => true)) as SensorStatus;
    assert.equal(retained.online, true);
    assert.equal(late.inbox.size, 0);
    await fleet.stop();
    assert.equal((JSON.parse(await nextMatching(late.inbox, () => true)) as SensorStatus).online, false);
    await late.client.endAsync();

    // `culex sensors` killed outright: the broker publishes each sensor's will.
    const { client, inbox } = await watcher('sensor_status/#');
    const sensors = await startCulexCommand('sensors', ['--broker', broker.url, '-n', '2', '--prefix', 'crash-'], /2 sensors connected/);
    const crashStatus = (topic: string): boolean => topic.startsWith('sensor_status/crash-');
    for (let online = 0; online < 2; ) if ((JSON.parse(await nextMatching(inbox, crashStatus)) as SensorStatus).online) online++;
    sensors.kill('SIGKILL');
    await sensors.result();
    const offline = new Set<string>();
    while (offline.size < 2) {
      const status = JSON.parse(await nextMatching(inbox, crashStatus)) as SensorStatus;
      if (!status.online) offline.add(status.sensor);
    }
    assert.deepEqual([...offline].sort(), ['crash-01', 'crash-02']);
    await client.endAsync();
  });

  test('topic names are configurable', async () => {
    const { client, inbox } = await watcher(['plant/readings/#', 'plant/state/#']);
    const fleet = await SensorFleet.start({ count: 1, url: broker.url, idPrefix: 'topic-', topics: { data: 'plant/readings', config: 'plant/orders', status: 'plant/state' } });
    try {
      await nextMatching(inbox, (topic) => topic === 'plant/state/topic-01');
      await client.publishAsync('plant/orders/all', '{"sampleRateHz": 10, "id": "t"}', { qos: 1 });
      await nextMatching(inbox, (topic, payload) => topic === 'plant/state/topic-01' && payload.includes('"t"'));
      await nextMatching(inbox, (topic) => topic === 'plant/readings/topic-01');
    } finally {
      await fleet.stop();
      await client.endAsync();
    }
  });
});
