// TopicTree, the retained-message index: values by exact topic name, looked up by filter
// following MQTT 3.1.1 and 5.0 §4.7, and checked against a naive matcher over random sequences.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTree } from '../../src/broker/topic-tree.js';
import { naiveMatch, prng } from '../helpers/random.js';

/** The topics forEachMatch visits, sorted; checks each is visited once, with its own value. */
function matched<V>(tree: TopicTree<V>, filter: string): string[] {
  const topics: string[] = [];
  tree.forEachMatch(filter, (topic, value) => {
    assert.equal(value, tree.get(topic), `value visited for "${topic}"`);
    topics.push(topic);
  });
  assert.equal(new Set(topics).size, topics.length, `"${filter}" visited a topic twice`);
  return topics.sort();
}

const STORED = [
  'sport',
  'sport/',
  'sports',
  'sport/tennis',
  'sport/tennis/player1',
  'sport/tennis/player1/ranking',
  'sport/tennis/player1/score/wimbledon',
  'sport/tennis/player2',
  'sport/golf/player1',
  'finance',
  '/finance',
  '/',
  'a//b',
  'a/$SYS',
  '$SYS',
  '$SYS/monitor/Clients',
];

function storedTree(): TopicTree<string> {
  const tree = new TopicTree<string>();
  for (const topic of STORED) tree.set(topic, `v:${topic}`);
  return tree;
}

describe('TopicTree', () => {
  test('set, get and delete by exact topic name; set returns the previous value', () => {
    const tree = new TopicTree<string>();
    assert.equal(tree.set('a/b', 'v1'), undefined);
    assert.equal(tree.set('a/b', 'v2'), 'v1');
    assert.equal(tree.get('a/b'), 'v2');
    assert.equal(tree.get('a'), undefined);
    assert.equal(tree.get('a/b/c'), undefined);
    assert.equal(tree.size, 1);
    assert.equal(tree.delete('a'), undefined);
    assert.equal(tree.delete('a/b/c'), undefined);
    assert.equal(tree.delete('a/b'), 'v2');
    assert.equal(tree.delete('a/b'), undefined);
    assert.equal(tree.size, 0);
  });

  test('empty levels are real levels: "a//b", "/a" and "a/" are distinct topics', () => {
    const tree = new TopicTree<string>();
    const topics = ['a/b', 'a//b', '/a', 'a', 'a/', '/', '//'];
    for (const topic of topics) tree.set(topic, topic);
    assert.equal(tree.size, topics.length);
    for (const topic of topics) assert.equal(tree.get(topic), topic);
    for (const topic of topics) assert.deepEqual(matched(tree, topic), [topic]);
  });

  test('a value that is undefined is still stored', () => {
    const tree = new TopicTree<string | undefined>();
    tree.set('a', undefined);
    assert.equal(tree.size, 1);
    assert.deepEqual([...tree.entries()], [['a', undefined]]);
    assert.deepEqual(matched(tree, '#'), ['a']);
    tree.delete('a');
    assert.equal(tree.size, 0);
    assert.equal(tree.nodeCount, 1);
  });

  test('[MQTT-4.7.1-1] a filter without wildcards visits only the equal topic name', () => {
    const tree = storedTree();
    assert.deepEqual(matched(tree, 'sport/tennis'), ['sport/tennis']);
    assert.deepEqual(matched(tree, 'Sport/tennis'), []);
    assert.deepEqual(matched(tree, 'sport/tennis/player3'), []);
  });

  test('[MQTT-4.7.1-2] "sport/tennis/player1/#" visits the level itself and every level below', () => {
    assert.deepEqual(matched(storedTree(), 'sport/tennis/player1/#'), [
      'sport/tennis/player1',
      'sport/tennis/player1/ranking',
      'sport/tennis/player1/score/wimbledon',
    ]);
  });

  test('[MQTT-4.7.1-2] "sport/#" also visits the parent level "sport"', () => {
    assert.deepEqual(
      matched(storedTree(), 'sport/#'),
      STORED.filter((t) => t === 'sport' || t.startsWith('sport/')).sort(),
    );
  });

  test('[MQTT-4.7.1-2] "#" visits every topic not starting with $', () => {
    assert.deepEqual(matched(storedTree(), '#'), STORED.filter((t) => !t.startsWith('$')).sort());
  });

  test('[MQTT-4.7.1-3] "sport/tennis/+" visits exactly one level below', () => {
    assert.deepEqual(matched(storedTree(), 'sport/tennis/+'), ['sport/tennis/player1', 'sport/tennis/player2']);
    assert.deepEqual(matched(storedTree(), 'sport/+/player1'), ['sport/golf/player1', 'sport/tennis/player1']);
  });

  test('[MQTT-4.7.1-3] "sport/+" does not visit "sport" but does visit "sport/"', () => {
    assert.deepEqual(matched(storedTree(), 'sport/+'), ['sport/', 'sport/tennis']);
  });

  test('[MQTT-4.7.1-3] "+/+" and "/+" visit "/finance"; "+" does not', () => {
    assert.deepEqual(matched(storedTree(), '+/+'), ['/', '/finance', 'a/$SYS', 'sport/', 'sport/tennis']);
    assert.deepEqual(matched(storedTree(), '/+'), ['/', '/finance']);
    assert.deepEqual(matched(storedTree(), '+'), ['finance', 'sport', 'sports']);
    assert.deepEqual(matched(storedTree(), '+/tennis/#'), STORED.filter((t) => t.startsWith('sport/tennis')).sort());
  });

  test('[MQTT-4.7.2-1] "#" and "+/monitor/Clients" do not visit "$SYS/monitor/Clients"', () => {
    const tree = storedTree();
    assert.ok(!matched(tree, '#').some((t) => t.startsWith('$')));
    assert.deepEqual(matched(tree, '+/monitor/Clients'), []);
    assert.deepEqual(matched(tree, '+/monitor/#'), []);
    assert.deepEqual(matched(tree, '+'), ['finance', 'sport', 'sports']);
  });

  test('[MQTT-4.7.2-1] "$SYS/#" and "$SYS/monitor/+" visit "$SYS/monitor/Clients"', () => {
    const tree = storedTree();
    assert.deepEqual(matched(tree, '$SYS/#'), ['$SYS', '$SYS/monitor/Clients']);
    assert.deepEqual(matched(tree, '$SYS/monitor/+'), ['$SYS/monitor/Clients']);
    assert.deepEqual(matched(tree, 'a/+'), ['a/$SYS'], 'only a leading $ is special');
  });

  test('the visitor may delete topics while the walk runs', () => {
    const tree = storedTree();
    const visited: string[] = [];
    tree.forEachMatch('sport/#', (topic) => {
      visited.push(topic);
      tree.delete(topic);
      tree.delete('sport/tennis/player2'); // deleted before it is visited: skipped
    });
    assert.ok(!visited.includes('sport/tennis/player2'));
    assert.deepEqual(matched(tree, 'sport/#'), []);
    const left = STORED.filter((t) => t !== 'sport' && !t.startsWith('sport/')).sort();
    assert.deepEqual([...tree.entries()].map(([t]) => t).sort(), left);
  });

  test('entries lists every stored topic with its value', () => {
    const tree = storedTree();
    assert.deepEqual(
      [...tree.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
      [...STORED].sort().map((t) => [t, `v:${t}`]),
    );
  });

  test('delete frees the nodes it leaves empty, so churn does not grow the trie', () => {
    const tree = new TopicTree<number>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) tree.set(`fleet/${i}/status/${i % 3}`, i);
      for (const topic of STORED) tree.set(topic, round);
      for (const topic of [...STORED].reverse()) tree.delete(topic);
      for (let i = 0; i < 100; i++) tree.delete(`fleet/${i}/status/${i % 3}`);
      assert.equal(tree.size, 0);
      assert.equal(tree.nodeCount, 1, 'only the root is left');
    }
  });

  test('topics of 10,000 levels are stored and matched without overflowing the stack', () => {
    const depth = 10_000;
    const topic = Array.from({ length: depth }, (_, i) => `l${i % 7}`).join('/');
    const tree = new TopicTree<string>();
    tree.set(topic, 'deep');
    tree.set(topic + '/x', 'deeper');
    assert.equal(tree.get(topic), 'deep');
    assert.deepEqual(matched(tree, topic), [topic]);
    assert.deepEqual(matched(tree, Array(depth).fill('+').join('/')), [topic]);
    assert.deepEqual(matched(tree, 'l0/#'), [topic, topic + '/x']);
    assert.deepEqual(matched(tree, '#'), [topic, topic + '/x']);
    assert.equal([...tree.entries()].length, 2);
    tree.delete(topic + '/x');
    tree.delete(topic);
    assert.equal(tree.nodeCount, 1);
  });
});

describe('TopicTree against a naive matcher', () => {
  test('random set/delete sequences match like the naive matcher', (t) => {
    const seed = Number(process.env.CULEX_TOPIC_SEED ?? 20240611);
    t.diagnostic(`seed ${seed} (replay with CULEX_TOPIC_SEED=${seed})`);
    const random = prng(seed);
    const alphabet = ['a', 'b', '', '$x', 'c'];
    const pick = (): string => alphabet[Math.floor(random() * alphabet.length)]!;
    const randomLevels = (wildcards: boolean): string[] => {
      const deep = random() < 0.08;
      const length = deep ? 20 + Math.floor(random() * 4) : 1 + Math.floor(random() * 5);
      const levels: string[] = [];
      for (let i = 0; i < length; i++) {
        const r = random();
        levels.push(wildcards && r < 0.25 ? '+' : deep ? (r < 0.92 ? 'a' : '') : pick());
      }
      if (wildcards && random() < 0.25) levels[levels.length - 1] = '#';
      return levels;
    };
    const topics = [...new Set(Array.from({ length: 2000 }, () => randomLevels(false).join('/')))];
    const filters = [...new Set(Array.from({ length: 1000 }, () => randomLevels(true).join('/')))];
    // The naive answers, computed once per (filter, topic) pair.
    const matrix = filters.map((filter) => topics.map((topic) => naiveMatch(filter, topic)));
    const tree = new TopicTree<string>();
    const model = new Map<number, string>(); // topic position → value
    const check = (filterAt: number, step: number): void => {
      const expected: string[] = [];
      for (const topicAt of model.keys()) if (matrix[filterAt]![topicAt]) expected.push(topics[topicAt]!);
      const filter = filters[filterAt]!;
      assert.deepEqual(matched(tree, filter), expected.sort(), `seed ${seed}, step ${step}, filter "${filter}"`);
    };
    for (let step = 0; step < 6000; step++) {
      const topicAt = Math.floor(random() * topics.length);
      const topic = topics[topicAt]!;
      if (random() < 0.6) {
        const value = `${topic}|${step}`;
        assert.equal(tree.set(topic, value), model.get(topicAt));
        model.set(topicAt, value);
      } else {
        assert.equal(tree.delete(topic), model.get(topicAt));
        model.delete(topicAt);
      }
      assert.equal(tree.size, model.size);
      for (let i = 0; i < 3; i++) check(Math.floor(random() * filters.length), step);
      if (step % 1000 === 0) for (let filterAt = 0; filterAt < filters.length; filterAt++) check(filterAt, step);
    }
    for (const topicAt of model.keys()) tree.delete(topics[topicAt]!);
    assert.equal(tree.nodeCount, 1);
  });
});
