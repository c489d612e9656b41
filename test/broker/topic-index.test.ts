// TopicIndex against the matching rules of MQTT 3.1.1 and 5.0 §4.7. Every core test runs twice,
// with the match cache and with it switched off (as NATS runs its Sublist tests), and a property
// test compares the index with a naive matcher over random set/delete sequences.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicIndex } from '../../src/broker/topic-index.js';
import { naiveMatch, prng } from '../helpers/random.js';

const sorted = (values: readonly string[]): string[] => [...values].sort();

for (const cacheSize of [1024, 0]) {
  describe(`TopicIndex, ${cacheSize === 0 ? 'match cache off' : `match cache of ${cacheSize}`}`, () => {
    const make = (): TopicIndex<string> => new TopicIndex<string>({ cacheSize });

    /** Whether the filter matches the topic; matches twice, so the second answer may come from the cache. */
    function matches(filter: string, topic: string): boolean {
      const index = make();
      index.set(filter, 'k', filter);
      const first = sorted(index.match(topic));
      assert.deepEqual(sorted(index.match(topic)), first, 'second match differs from the first');
      return first.includes(filter);
    }
    function assertMatches(filter: string, topics: readonly string[], expected: boolean): void {
      for (const topic of topics) assert.equal(matches(filter, topic), expected, `"${filter}" vs "${topic}"`);
    }

    test('[MQTT-4.7.1-1] wildcards belong to filters: a filter without them matches only the equal topic name', () => {
      assertMatches('sport/tennis', ['sport/tennis'], true);
      // Topic names are case sensitive, and no prefix or extension matches (§4.7.3).
      const others = ['Sport/tennis', 'sport', 'sport/tennis/player1', 'sport/tennis/', 'sport/tennisx'];
      assertMatches('sport/tennis', others, false);
    });

    test('[MQTT-4.7.1-2] "sport/tennis/player1/#" matches the level itself and every level below', () => {
      assertMatches(
        'sport/tennis/player1/#',
        ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon'],
        true,
      );
      assertMatches('sport/tennis/player1/#', ['sport/tennis', 'sport/tennis/player2', 'sport/tennis/player10'], false);
    });

    test('[MQTT-4.7.1-2] "sport/#" also matches the parent level "sport"', () => {
      assertMatches('sport/#', ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1'], true);
      assertMatches('sport/#', ['sports', 'spor', 'sport2/tennis'], false);
    });

    test('[MQTT-4.7.1-2] "#" on its own matches every topic not starting with $', () => {
      assertMatches('#', ['sport', '/', '/finance', 'a//b', 'a/', 'a/$SYS'], true);
    });

    test('[MQTT-4.7.1-3] "sport/tennis/+" matches exactly one level', () => {
      assertMatches('sport/tennis/+', ['sport/tennis/player1', 'sport/tennis/player2', 'sport/tennis/'], true);
      assertMatches('sport/tennis/+', ['sport/tennis/player1/ranking', 'sport/tennis'], false);
    });

    test('[MQTT-4.7.1-3] "sport/+" does not match "sport" but does match "sport/"', () => {
      assertMatches('sport/+', ['sport/'], true);
      assertMatches('sport/+', ['sport'], false);
    });

    test('[MQTT-4.7.1-3] "+/+" and "/+" match "/finance"; "+" does not', () => {
      assertMatches('+/+', ['/finance'], true);
      assertMatches('/+', ['/finance'], true);
      assertMatches('+', ['/finance'], false);
      assertMatches('+', ['finance'], true);
    });

    test('[MQTT-4.7.1-3] "+" may be used at any level, mixed with "#"', () => {
      assertMatches('sport/+/player1', ['sport/tennis/player1', 'sport//player1'], true);
      assertMatches('sport/+/player1', ['sport/tennis/player2', 'sport/player1'], false);
      assertMatches('+/tennis/#', ['sport/tennis', 'sport/tennis/player1/ranking'], true);
      assertMatches('+/tennis/#', ['sport/golf', 'tennis'], false);
    });

    test('[MQTT-4.7.2-1] "#" and "+/monitor/Clients" do not match "$SYS/monitor/Clients"', () => {
      assertMatches('#', ['$SYS/monitor/Clients', '$SYS', '$'], false);
      assertMatches('+/monitor/Clients', ['$SYS/monitor/Clients'], false);
      assertMatches('+', ['$SYS'], false);
    });

    test('[MQTT-4.7.2-1] "$SYS/#" and "$SYS/monitor/+" match "$SYS/monitor/Clients"', () => {
      assertMatches('$SYS/#', ['$SYS/monitor/Clients', '$SYS'], true);
      assertMatches('$SYS/monitor/+', ['$SYS/monitor/Clients'], true);
      assertMatches('$SYS/monitor/Clients', ['$SYS/monitor/Clients'], true);
      // Only a leading '$' is special: a wildcard after the first level matches "$" levels.
      assertMatches('a/+', ['a/$SYS'], true);
    });

    test('empty levels are real levels: "a//b", "/a" and "a/" are distinct topics', () => {
      const index = make();
      for (const filter of ['a/b', 'a//b', '/a', 'a', 'a/', '/']) index.set(filter, 'k', filter);
      for (const topic of ['a/b', 'a//b', '/a', 'a', 'a/', '/']) assert.deepEqual(index.match(topic), [topic]);
      assertMatches('a/+/b', ['a//b'], true);
      assertMatches('+/+/+', ['a//b', '//'], true);
      assertMatches('/#', ['/', '/finance'], true);
    });

    test('overlapping subscriptions of one key give one value per matching filter', () => {
      const index = make();
      for (const filter of ['a/b', 'a/+', 'a/#', '#', '+/b', 'a/c']) index.set(filter, 'client-1', filter);
      assert.deepEqual(sorted(index.match('a/b')), ['#', '+/b', 'a/#', 'a/+', 'a/b']);
      assert.equal(index.size, 6);
      assert.equal(index.filterCount, 6);
    });

    test('every key subscribed to one filter is matched', () => {
      const index = make();
      for (const key of ['c1', 'c2', 'c3']) index.set('a/+', key, key);
      assert.deepEqual(sorted(index.match('a/x')), ['c1', 'c2', 'c3']);
      assert.equal(index.size, 3);
      assert.equal(index.filterCount, 1);
    });

    test('set replaces the value stored under (filter, key) and returns the previous one', () => {
      const index = make();
      assert.equal(index.set('a/#', 'k', 'qos0'), undefined);
      assert.deepEqual(index.match('a/b'), ['qos0']);
      assert.equal(index.set('a/#', 'k', 'qos1'), 'qos0');
      assert.deepEqual(index.match('a/b'), ['qos1']);
      assert.equal(index.get('a/#', 'k'), 'qos1');
      assert.equal(index.size, 1);
      assert.equal(index.filterCount, 1);
    });

    test('get finds values by exact filter and key, wildcards included', () => {
      const index = make();
      index.set('a/+/c', 'k', 'plus');
      index.set('a/#', 'k', 'hash');
      index.set('a', 'k', 'exact');
      assert.equal(index.get('a/+/c', 'k'), 'plus');
      assert.equal(index.get('a/#', 'k'), 'hash');
      assert.equal(index.get('a', 'k'), 'exact');
      assert.equal(index.get('a/b/c', 'k'), undefined);
      assert.equal(index.get('a/+', 'k'), undefined);
      assert.equal(index.get('a', 'other'), undefined);
      assert.equal(index.get('#', 'k'), undefined);
    });

    test('delete removes only (filter, key) and returns its value', () => {
      const index = make();
      index.set('a/#', 'k1', 'v1');
      index.set('a/#', 'k2', 'v2');
      index.set('a', 'k1', 'v3');
      assert.equal(index.delete('a/#', 'k1'), 'v1');
      assert.equal(index.delete('a/#', 'k1'), undefined);
      assert.equal(index.delete('a/+', 'k1'), undefined);
      assert.equal(index.delete('b', 'k1'), undefined);
      assert.deepEqual(sorted(index.match('a')), ['v2', 'v3']);
      assert.equal(index.size, 2);
      assert.equal(index.filterCount, 2);
      assert.equal(index.delete('a/#', 'k2'), 'v2');
      assert.deepEqual(index.match('a'), ['v3']);
      assert.equal(index.filterCount, 1);
    });

    test('delete frees the nodes it leaves empty, so churn does not grow the trie', () => {
      const index = make();
      const filters = ['a/b/c', 'a/+/c', 'a/#', '#', '+', '+/+/#', 'a//b/', '$SYS/x/#', 'a/b/c/d/e/f'];
      for (let round = 0; round < 3; round++) {
        for (const filter of filters) for (const key of ['k1', 'k2']) index.set(filter, key, filter);
        index.match('a/b/c');
        for (const filter of filters) for (const key of ['k2', 'k1']) index.delete(filter, key);
        assert.equal(index.nodeCount, 1, 'only the root is left');
        assert.equal(index.size, 0);
        assert.equal(index.filterCount, 0);
        assert.deepEqual(index.match('a/b/c'), []);
      }
    });

    test('a match sees a filter set after the previous match of the same topic', () => {
      const index = make();
      index.set('a/b', 'k1', 'exact');
      assert.deepEqual(index.match('a/b'), ['exact']);
      index.set('a/+', 'k2', 'plus');
      assert.deepEqual(sorted(index.match('a/b')), ['exact', 'plus']);
      index.set('#', 'k3', 'all');
      assert.deepEqual(sorted(index.match('a/b')), ['all', 'exact', 'plus']);
      assert.deepEqual(index.match('nothing'), ['all']);
    });

    test('a match no longer sees a deleted or replaced entry', () => {
      const index = make();
      index.set('a/+', 'k1', 'old');
      index.set('a/#', 'k2', 'hash');
      assert.deepEqual(sorted(index.match('a/b')), ['hash', 'old']);
      index.set('a/+', 'k1', 'new');
      assert.deepEqual(sorted(index.match('a/b')), ['hash', 'new']);
      index.delete('a/#', 'k2');
      assert.deepEqual(index.match('a/b'), ['new']);
      index.delete('a/+', 'k1');
      assert.deepEqual(index.match('a/b'), []);
    });

    test('a $ topic stays unmatched by "#" set after it was cached [MQTT-4.7.2-1]', () => {
      const index = make();
      index.set('$SYS/#', 'k', 'sys');
      assert.deepEqual(index.match('$SYS/load'), ['sys']);
      index.set('#', 'k', 'all');
      index.set('+/load', 'k', 'plus');
      assert.deepEqual(index.match('$SYS/load'), ['sys']);
    });

    test('topics of 10,000 levels match without overflowing the stack', () => {
      const depth = 10_000;
      const topic = Array.from({ length: depth }, (_, i) => `l${i % 7}`).join('/');
      const index = make();
      index.set(topic, 'k', 'exact');
      index.set(Array(depth).fill('+').join('/'), 'k', 'all-plus');
      index.set(Array(depth - 1).fill('+').join('/') + '/#', 'k', 'plus-hash');
      index.set('l0/#', 'k', 'prefix');
      index.set(topic + '/x', 'k', 'deeper');
      assert.deepEqual(sorted(index.match(topic)), ['all-plus', 'exact', 'plus-hash', 'prefix']);
      assert.deepEqual(sorted(index.match(topic)), ['all-plus', 'exact', 'plus-hash', 'prefix']);
      assert.equal(index.get(topic, 'k'), 'exact');
      for (const filter of [topic, topic + '/x', 'l0/#']) index.delete(filter, 'k');
      index.delete(Array(depth).fill('+').join('/'), 'k');
      index.delete(Array(depth - 1).fill('+').join('/') + '/#', 'k');
      assert.equal(index.nodeCount, 1);
    });

    if (cacheSize === 0) {
      test('cacheSize 0 really switches the cache off', () => {
        const index = make();
        index.set('a/#', 'k', 'v');
        for (let i = 0; i < 10; i++) index.match('a/b');
        assert.deepEqual(index.cacheStats, { hits: 0, misses: 0, size: 0 });
        // Without a cache, each call returns a fresh array.
        assert.notEqual(index.match('a/b'), index.match('a/b'));
      });
    } else {
      test('repeated matches are served from the cache', () => {
        const index = make();
        index.set('a/#', 'k', 'v');
        const first = index.match('a/b');
        assert.equal(index.match('a/b'), first);
        assert.deepEqual(index.cacheStats, { hits: 1, misses: 1, size: 1 });
      });

      test('set and delete drop only the cached topics the filter matches', () => {
        const index = make();
        index.set('a/b', 'k', 'ab');
        index.set('c/d', 'k', 'cd');
        index.match('a/b');
        index.match('c/d');
        index.match('$SYS/x');
        index.set('a/+', 'k', 'a+');
        index.set('+/x', 'k', '+x'); // does not match "$SYS/x" [MQTT-4.7.2-1]
        assert.equal(index.cacheStats.size, 2, '"a/b" dropped; "c/d" and "$SYS/x" kept');
        index.delete('e/#', 'k'); // nothing stored: nothing dropped
        index.set('e/#', 'k', 'e');
        assert.equal(index.cacheStats.size, 2);
        const { hits } = index.cacheStats;
        assert.deepEqual(index.match('c/d'), ['cd']);
        assert.deepEqual(index.match('$SYS/x'), []);
        assert.equal(index.cacheStats.hits, hits + 2);
        assert.deepEqual(sorted(index.match('a/b')), ['a+', 'ab']);
        index.delete('c/+', 'k');
        assert.equal(index.cacheStats.size, 3);
        index.delete('c/d', 'k');
        assert.equal(index.cacheStats.size, 2);
        assert.deepEqual(index.match('c/d'), []);
      });

      test('the cache stays within cacheSize, sweeping the oldest topics', () => {
        const index = new TopicIndex<string>({ cacheSize: 8 });
        index.set('t/+', 'k', 'v');
        for (let i = 0; i < 100; i++) {
          assert.deepEqual(index.match(`t/${i}`), ['v']);
          assert.ok(index.cacheStats.size <= 8);
        }
        assert.equal(index.cacheStats.misses, 100);
        assert.deepEqual(index.match('t/99'), ['v']);
        assert.equal(index.cacheStats.hits, 1);
      });

      test('long topics and large results are matched but not cached, so the cache stays small in memory', () => {
        const index = make();
        const long = 'x/'.repeat(600) + 'y';
        index.set('#', 'k', 'all');
        assert.deepEqual(index.match(long), ['all']);
        assert.deepEqual(index.match(long), ['all']);
        assert.equal(index.cacheStats.size, 0);
        for (let i = 0; i < 2000; i++) index.set('a/+', `k${i}`, `v${i}`);
        assert.equal(index.match('a/b').length, 2001);
        assert.equal(index.match('a/b').length, 2001);
        assert.deepEqual(index.cacheStats, { hits: 0, misses: 4, size: 0 });
      });

      test('a cacheSize that is not a non-negative integer is refused', () => {
        assert.throws(() => new TopicIndex({ cacheSize: -1 }), RangeError);
        assert.throws(() => new TopicIndex({ cacheSize: 1.5 }), RangeError);
      });
    }
  });
}

describe('TopicIndex against a naive matcher', () => {
  const seed = Number(process.env.CULEX_TOPIC_SEED ?? 20240611);
  const alphabet = ['a', 'b', '', '$x', 'c'];

  function randomFilter(random: () => number): string {
    const deep = random() < 0.05;
    const length = deep ? 20 + Math.floor(random() * 4) : 1 + Math.floor(random() * 5);
    const levels: string[] = [];
    for (let i = 0; i < length; i++) {
      const r = random();
      levels.push(r < 0.25 ? '+' : deep ? (r < 0.9 ? 'a' : '') : alphabet[Math.floor(random() * alphabet.length)]!);
    }
    if (random() < 0.25) levels[levels.length - 1] = '#';
    return levels.join('/');
  }
  function randomTopic(random: () => number): string {
    const deep = random() < 0.1;
    const length = deep ? 20 + Math.floor(random() * 4) : 1 + Math.floor(random() * 5);
    const levels: string[] = [];
    for (let i = 0; i < length; i++) {
      levels.push(deep ? (random() < 0.95 ? 'a' : '') : alphabet[Math.floor(random() * alphabet.length)]!);
    }
    return levels.join('/');
  }

  for (const cacheSize of [1024, 16, 0]) {
    test(`random set/delete sequences match like the naive matcher (cacheSize ${cacheSize})`, (t) => {
      t.diagnostic(`seed ${seed} (replay with CULEX_TOPIC_SEED=${seed})`);
      const random = prng(seed);
      const filters = [...new Set(Array.from({ length: 2000 }, () => randomFilter(random)))];
      const topics = [...new Set(Array.from({ length: 1000 }, () => randomTopic(random)))];
      // The naive answers, computed once per (filter, topic) pair.
      const matrix = filters.map((filter) => topics.map((topic) => naiveMatch(filter, topic)));
      const keys = ['k0', 'k1', 'k2', 'k3'];
      const index = new TopicIndex<string>({ cacheSize });
      const model = new Map<number, Map<string, string>>(); // filter position → key → value
      const check = (topicAt: number, step: number): void => {
        const expected: string[] = [];
        for (const [filterAt, entries] of model) if (matrix[filterAt]![topicAt]) expected.push(...entries.values());
        const topic = topics[topicAt]!;
        assert.deepEqual(sorted(index.match(topic)), expected.sort(), `seed ${seed}, step ${step}, topic "${topic}"`);
      };
      for (let step = 0; step < 6000; step++) {
        const filterAt = Math.floor(random() * filters.length);
        const filter = filters[filterAt]!;
        const key = keys[Math.floor(random() * keys.length)]!;
        const entries = model.get(filterAt) ?? new Map<string, string>();
        if (random() < 0.6) {
          const value = `${filter}|${key}|${step}`;
          assert.equal(index.set(filter, key, value), entries.get(key));
          entries.set(key, value);
          model.set(filterAt, entries);
        } else {
          assert.equal(index.delete(filter, key), entries.get(key));
          entries.delete(key);
          if (entries.size === 0) model.delete(filterAt);
        }
        for (let i = 0; i < 3; i++) check(Math.floor(random() * topics.length), step);
        if (step % 1000 === 0) for (let topicAt = 0; topicAt < topics.length; topicAt++) check(topicAt, step);
      }
      let entryCount = 0;
      for (const entries of model.values()) entryCount += entries.size;
      assert.equal(index.size, entryCount);
      assert.equal(index.filterCount, model.size);
      for (const [filterAt, entries] of model) for (const key of entries.keys()) index.delete(filters[filterAt]!, key);
      assert.equal(index.nodeCount, 1);
      if (cacheSize > 0) assert.ok(index.cacheStats.hits > 0 && index.cacheStats.size <= cacheSize);
    });
  }
});
