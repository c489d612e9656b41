// Bridge topic rules and prefix remapping, checked against the table of mosquitto.conf(5)
// ("topic pattern [[[ out | in | both ] qos-level] local-prefix remote-prefix]").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localTopicFor, makeBridgeTopic, remoteTopicFor, type BridgeTopic } from '../../src/bridge/topic-map.js';
import { RestartDelay } from '../../src/bridge/restart-delay.js';

function rule(pattern: string | undefined, direction: 'in' | 'out' | 'both', local?: string, remote?: string): BridgeTopic {
  const made = makeBridgeTopic(pattern, direction, 1, local, remote);
  assert.ok(typeof made !== 'string', `rule refused: ${String(made)}`);
  return made;
}

test('the manual table: full local and remote topics of each valid prefix combination', () => {
  const rows: [string | undefined, string | undefined, string | undefined, string, string][] = [
    ['pattern', 'L/', 'R/', 'L/pattern', 'R/pattern'],
    ['pattern', 'L/', undefined, 'L/pattern', 'pattern'],
    ['pattern', undefined, 'R/', 'pattern', 'R/pattern'],
    ['pattern', undefined, undefined, 'pattern', 'pattern'],
    [undefined, 'local', 'remote', 'local', 'remote'],
  ];
  for (const [pattern, local, remote, fullLocal, fullRemote] of rows) {
    const made = rule(pattern, 'both', local, remote);
    assert.equal(made.localTopic, fullLocal);
    assert.equal(made.remoteTopic, fullRemote);
  }
});

test('the manual table: an empty pattern needs both prefixes ("Invalid bridge remapping.")', () => {
  assert.equal(makeBridgeTopic(undefined, 'out', 0, 'local', undefined), 'Invalid bridge remapping.');
  assert.equal(makeBridgeTopic(undefined, 'out', 0, undefined, 'remote'), 'Invalid bridge remapping.');
  assert.equal(makeBridgeTopic(undefined, 'out', 0, undefined, undefined), 'Invalid bridge remapping.');
});

test('outgoing: the local prefix is removed and the remote prefix added; other topics pass unchanged', () => {
  const topics = [rule('sensor_data/#', 'out', 'site/', 'central/site1/')];
  assert.equal(remoteTopicFor(topics, 'site/sensor_data/t1'), 'central/site1/sensor_data/t1');
  assert.equal(remoteTopicFor(topics, 'elsewhere/x'), 'elsewhere/x');
});

test('incoming: the remote prefix is removed and the local prefix added', () => {
  const topics = [rule('config_change/#', 'in', undefined, 'central/')];
  assert.equal(localTopicFor(topics, 'central/config_change/s1'), 'config_change/s1');
  // an out-only rule never remaps incoming messages
  assert.equal(localTopicFor([rule('config_change/#', 'out', undefined, 'central/')], 'central/config_change/s1'), 'central/config_change/s1');
});

test('the empty pattern maps one local topic to one remote topic, both ways', () => {
  const topics = [rule(undefined, 'both', 'local/state', 'remote/edge/state')];
  assert.equal(remoteTopicFor(topics, 'local/state'), 'remote/edge/state');
  assert.equal(localTopicFor(topics, 'remote/edge/state'), 'local/state');
});

test('the first matching rule with a prefix decides; rules without prefixes are passed over', () => {
  const topics = [rule('a/#', 'out'), rule('b', 'out', 'a/', 'x/'), rule('#', 'out', undefined, 'y/')];
  assert.equal(remoteTopicFor(topics, 'a/b'), 'x/b');
  assert.equal(remoteTopicFor(topics, 'c'), 'y/c');
});

test('restart_timeout: a constant delay, or Decorrelated Jitter between the base and the cap', () => {
  assert.deepEqual([1, 2, 3].map(() => new RestartDelay(20, undefined).next()), [20, 20, 20]);
  let r = 0;
  const values = [0.99, 0.99, 0.99, 0.99, 0.0];
  const delay = new RestartDelay(5, 30, () => values[r++]!);
  const seen = values.map(() => delay.next());
  for (const seconds of seen) assert.ok(seconds >= 5 && seconds <= 30, `${seconds} outside 5..30`);
  assert.ok(seen[1]! > seen[0]!, 'grows while the random draws are high');
  assert.equal(seen[3], 30, 'capped');
  delay.reset();
  r = 4;
  assert.equal(delay.next(), 5, 'after a successful connection it starts from the base again');
});
