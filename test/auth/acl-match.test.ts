// The filter relations behind ACL checks: match, intersect (could share a topic), cover (contains).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aclFilterProblem, filterCovers, filterMatches, filtersIntersect } from '../../src/auth/acl-match.js';

const s = (filter: string): string[] => filter.split('/');

test('filterMatches follows MQTT wildcard rules, "#" includes the parent, wildcards skip $ topics', () => {
  const cases: [string, string, boolean][] = [
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['+', '', true],
    ['+/+', '/x', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a', 'a/b', false],
  ];
  for (const [filter, topic, expected] of cases) assert.equal(filterMatches(s(filter), s(topic)), expected, `${filter} ~ ${topic}`);
});

test('filtersIntersect is true exactly when some topic matches both filters', () => {
  const cases: [string, string, boolean][] = [
    ['a/+', '+/b', true],
    ['a/#', 'a', true],
    ['a/b', 'a/c', false],
    ['a/+/c', 'a/b', false],
    ['#', '$SYS/#', false],
    ['$SYS/#', '$SYS/broker/+', true],
    ['+', '#', true],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(filtersIntersect(s(a), s(b)), expected, `${a} ∩ ${b}`);
    assert.equal(filtersIntersect(s(b), s(a)), expected, `${b} ∩ ${a}`);
  }
});

test('filterCovers is true when every topic of the inner filter matches the outer one', () => {
  const cases: [string, string, boolean][] = [
    ['a/#', 'a', true],
    ['a/#', 'a/+/c', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/b', true],
    ['a/b', 'a/+', false],
    ['#', '$SYS/x', false],
    ['#', '+/x', true],
  ];
  for (const [outer, inner, expected] of cases) assert.equal(filterCovers(s(outer), s(inner)), expected, `${outer} ⊇ ${inner}`);
});

test('ACL filters need "+" and "#" as whole levels and "#" last', () => {
  assert.equal(aclFilterProblem('a/+/#'), undefined);
  assert.match(aclFilterProblem('a/#/b')!, /last/);
  assert.match(aclFilterProblem('a+')!, /whole level/);
  assert.match(aclFilterProblem('')!, /empty/);
});
