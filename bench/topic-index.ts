// Micro-benchmark of TopicIndex.match: the cost of a match must not grow with the number of
// subscriptions the topic cannot reach. Run: node --import tsx bench/topic-index.ts
// Each measurement runs for a fixed time (about 0.3 s), so the whole run stays well under a minute.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TopicIndex } from '../src/broker/topic-index.js';

// A full collection between measurements, without asking for --expose-gc on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MEASURE_MS = 300;
const SIZES = [100, 10_000, 1_000_000];

/** Subscriptions no "sensors/…" topic can reach: exact, '+' and '#' filters under "fleet/…". */
function addUnrelated(index: TopicIndex<number>, count: number): void {
  for (let i = 0; i < count; i++) {
    const mod = i % 10;
    const filter = mod === 0 ? `fleet/${i}/+/alarm` : mod === 1 ? `fleet/${i}/#` : `fleet/${i}/status`;
    index.set(filter, `client-${i}`, i);
  }
}

/** What the measured topics do match: 3 values per topic (exact, '+', '#'). */
function addRelated(index: TopicIndex<number>): void {
  for (let room = 0; room < 10_000; room++) index.set(`sensors/room${room}/temp`, `room-${room}`, room);
  index.set('sensors/+/temp', 'dashboard', -1);
  index.set('sensors/#', 'recorder', -2);
}

/** Nanoseconds per match, cycling through the topics for about MEASURE_MS. */
function measure(index: TopicIndex<number>, topics: readonly string[]): number {
  for (let i = 0; i < 20_000; i++) index.match(topics[i % topics.length]!); // warm up
  let values = 0; // also keeps the calls from being optimised away
  let matches = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(MEASURE_MS) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 10_000; i++) values += index.match(topics[(matches + i) % topics.length]!).length;
    matches += 10_000;
    now = process.hrtime.bigint();
  }
  if (values !== 3 * matches) throw new Error(`expected 3 values per match, got ${values / matches}`);
  return Number(now - start) / matches;
}

/** Microseconds for one subscribe + unsubscribe with a full cache, which each invalidation scans. */
function measureChurn(index: TopicIndex<number>, cacheSize: number, topics: readonly string[]): number {
  // Fill the cache to exactly cacheSize: a miss on a full cache would sweep it down to a quarter.
  for (let i = 0; index.cacheStats.size < cacheSize; i++) index.match(topics[i % topics.length]!);
  const rounds = 2_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    index.set(`sensors/room${i}/+`, 'churn', i); // drops at most one cached topic, like a real subscribe
    index.delete(`sensors/room${i}/+`, 'churn');
  }
  return Number(process.hrtime.bigint() - start) / rounds / 1000;
}

/** A topic as the parser yields it: a flat string (a template literal gives a slower cons string). */
const topicName = (text: string): string => Buffer.from(text).toString();
const hot = Array.from({ length: 100 }, (_, i) => topicName(`sensors/room${i}/temp`));
// 10,000 distinct topics in a scattered order: ten times the default cache, so mostly misses.
const cold = Array.from({ length: 10_000 }, (_, i) => topicName(`sensors/room${(i * 7919) % 10_000}/temp`));

interface Row {
  readonly hot: number;
  readonly cold: number;
  readonly churn: number;
}

/** One index of the given size; returns its numbers, so the index is garbage before the next. */
function run(size: number, cacheSize: number): Row {
  const index = new TopicIndex<number>({ cacheSize });
  addUnrelated(index, size);
  addRelated(index);
  gc(); // measure matches, not the collection of what building left behind
  const hotNs = measure(index, hot);
  const coldNs = measure(index, cold);
  return { hot: hotNs, cold: coldNs, churn: cacheSize > 0 ? measureChurn(index, cacheSize, cold) : 0 };
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}; ns per match (3 values each)\n`);
const columns = [
  'unrelated subscriptions',
  'cache, 100 hot topics',
  'no cache, 100 hot topics',
  'cache, 10,000 topics',
  'no cache, 10,000 topics',
  'set+delete, full cache',
];
console.log(`| ${columns.join(' | ')} |`);
console.log(`|${columns.map(() => '---:').join('|')}|`);
for (const size of SIZES) {
  const cached = run(size, 1024);
  gc();
  const uncached = run(size, 0);
  gc();
  const cells = [cached.hot, uncached.hot, cached.cold, uncached.cold].map((ns) => ns.toFixed(0));
  console.log(`| ${size.toLocaleString('en-US')} | ${cells.join(' | ')} | ${cached.churn.toFixed(1)} µs |`);
}
