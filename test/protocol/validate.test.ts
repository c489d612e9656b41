// Topic Name / Topic Filter validation (MQTT 5.0 §4.7, §4.8.2) and UTF-8 checks for API strings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isValidUtf8String,
  parseSharedFilter,
  validateTopicFilter,
  validateTopicName,
} from '../../src/protocol/validate.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';

function nameError(topic: string): string | undefined {
  const error = validateTopicName(topic);
  if (error !== undefined) assert.equal(error.reasonCode, ReasonCode.TopicNameInvalid);
  return error?.statement;
}

function filterError(filter: string): string | undefined {
  const error = validateTopicFilter(filter);
  if (error !== undefined) assert.equal(error.reasonCode, ReasonCode.TopicFilterInvalid);
  return error?.statement;
}

test('valid Topic Names pass', () => {
  for (const topic of ['a', 'a/b', '/', '//', '/a/', 'sport/tennis/player1', '$SYS/broker/uptime', 'ünï/😀', ' ']) {
    assert.equal(validateTopicName(topic), undefined, topic);
  }
});

test('[MQTT-4.7.3-1] a Topic Name must be at least one character long', () => {
  assert.equal(nameError(''), 'MQTT-4.7.3-1');
});

test('[MQTT-3.3.2-2] a Topic Name must not contain + or #', () => {
  for (const topic of ['+', '#', 'a/+', 'a/#', 'a+b', 'a#', 'sport/tennis/#']) assert.equal(nameError(topic), 'MQTT-3.3.2-2', topic);
});

test('[MQTT-4.7.3-2] a Topic Name or Filter must not contain U+0000', () => {
  assert.equal(nameError('a\u0000b'), 'MQTT-4.7.3-2');
  assert.equal(filterError('a/\u0000'), 'MQTT-4.7.3-2');
});

test('[MQTT-1.5.4-1] a Topic Name or Filter with a lone surrogate cannot be encoded', () => {
  assert.equal(nameError('a\ud800'), 'MQTT-1.5.4-1');
  assert.equal(filterError('\udc00/#'), 'MQTT-1.5.4-1');
});

test('[MQTT-4.7.3-3] a Topic Name or Filter must not encode to more than 65535 bytes', () => {
  assert.equal(nameError('a'.repeat(65_535)), undefined);
  assert.equal(nameError('a'.repeat(65_536)), 'MQTT-4.7.3-3');
  assert.equal(filterError('é'.repeat(32_768)), 'MQTT-4.7.3-3');
});

test('valid Topic Filters pass', () => {
  for (const filter of ['#', '+', '+/+', '/+', '+/', 'a/+/c', 'a/#', '/#', '+/#', 'sport/tennis/player1', '$SYS/#', 'a//b', '$share']) {
    assert.equal(validateTopicFilter(filter), undefined, filter);
  }
});

test('[MQTT-4.7.3-1] a Topic Filter must be at least one character long', () => {
  assert.equal(filterError(''), 'MQTT-4.7.3-1');
});

test('[MQTT-4.7.1-2] # must be the last character and occupy a whole level', () => {
  for (const filter of ['a/#/b', '#/a', 'a#', 'a/b#', '##', 'a/#/']) assert.equal(filterError(filter), 'MQTT-4.7.1-2', filter);
});

test('[MQTT-4.7.1-3] + must occupy a whole level', () => {
  for (const filter of ['a+', '+a', 'a/b+/c', '++', 'a/+b']) assert.equal(filterError(filter), 'MQTT-4.7.1-3', filter);
});

test('valid Shared Subscription filters pass', () => {
  for (const filter of ['$share/g/a', '$share/group-1/a/+/c', '$share/g/#', '$share/g/+', '$share/g//']) {
    assert.equal(validateTopicFilter(filter), undefined, filter);
  }
});

test('[MQTT-4.8.2-1] a Shared Subscription needs a ShareName at least one character long', () => {
  assert.equal(filterError('$share//a'), 'MQTT-4.8.2-1');
  assert.equal(filterError('$share/'), 'MQTT-4.8.2-1');
});

test('[MQTT-4.8.2-2] the ShareName must not contain + or #, and must be followed by / and a Topic Filter', () => {
  assert.equal(filterError('$share/g+/a'), 'MQTT-4.8.2-2');
  assert.equal(filterError('$share/#/a'), 'MQTT-4.8.2-2');
  assert.equal(filterError('$share/g'), 'MQTT-4.8.2-2');
  assert.equal(filterError('$share/g/'), 'MQTT-4.8.2-2');
});

test('the filter inside a Shared Subscription follows the wildcard rules', () => {
  assert.equal(filterError('$share/g/a/#/b'), 'MQTT-4.7.1-2');
  assert.equal(filterError('$share/g/a+'), 'MQTT-4.7.1-3');
});

test('parseSharedFilter splits $share/{ShareName}/{filter}', () => {
  assert.deepEqual(parseSharedFilter('$share/g/f'), { group: 'g', filter: 'f' });
  assert.deepEqual(parseSharedFilter('$share/consumers/sensors/+/temp'), { group: 'consumers', filter: 'sensors/+/temp' });
  assert.deepEqual(parseSharedFilter('$share/g//'), { group: 'g', filter: '/' });
  for (const notShared of ['a/b', '$share', '$share/', '$share/g', '$share/g/', '$share//f', '$SHARE/g/f']) {
    assert.equal(parseSharedFilter(notShared), undefined, notShared);
  }
});

test('[MQTT-1.5.4-1] [MQTT-1.5.4-2] isValidUtf8String rejects lone surrogates and U+0000', () => {
  for (const good of ['', 'abc', 'ünïcödé', '😀', '\ufeff', '\uffff']) assert.equal(isValidUtf8String(good), true, good);
  for (const bad of ['\ud800', 'a\udfff', '\udc00\ud800', 'a\u0000']) assert.equal(isValidUtf8String(bad), false, JSON.stringify(bad));
});
