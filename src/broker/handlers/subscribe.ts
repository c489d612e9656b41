// SUBSCRIBE → SUBACK (then the matching retained messages), UNSUBSCRIBE → UNSUBACK.

import type { QoS, SubackPacket, SubscribePacket, SubscriptionRequest, UnsubackPacket, UnsubscribePacket } from '../../protocol/packets.js';
import { ReasonCode, SubackFailure, reasonCodeName } from '../../protocol/reason-codes.js';
import { parseSharedFilter, validateTopicFilter } from '../../protocol/validate.js';
import type { Channel } from '../channel.js';
import type { Subscription } from '../session.js';

/** Decides one filter of a SUBSCRIBE: the subscription to add, or a v5 failure reason code. */
type Decision = { subscription: Subscription } | { failure: number };

export function handleSubscribe(channel: Channel, packet: SubscribePacket): void | Promise<void> {
  const subscriptionId = packet.properties?.subscriptionIdentifiers?.[0];
  const decisions: (Decision | Promise<Decision>)[] = [];
  const added = new Set<string>();
  let pending = false;
  for (const request of packet.subscriptions) {
    if (request.noLocal && request.filter.startsWith('$share/')) {
      return channel.fail(ReasonCode.ProtocolError, 'No Local on a shared subscription [MQTT-3.8.3-4]');
    }
    const decision = decide(channel, request, subscriptionId, added);
    if (decision instanceof Promise) pending = true;
    decisions.push(decision);
  }
  if (pending) return Promise.all(decisions).then((settled) => applySubscribe(channel, packet, settled));
  applySubscribe(channel, packet, decisions as Decision[]);
}

/** `added` collects the new filters of this SUBSCRIBE that passed the quota, so later ones count them. */
function decide(channel: Channel, request: SubscriptionRequest, subscriptionId: number | undefined, added: Set<string>): Decision | Promise<Decision> {
  const options = channel.broker.options;
  const session = channel.session!;
  if (validateTopicFilter(request.filter) !== undefined) return { failure: ReasonCode.TopicFilterInvalid };
  const shared = parseSharedFilter(request.filter);
  const topicFilter = shared?.filter ?? request.filter;
  if (options.maxTopicLevels > 0 && topicFilter.split('/').length > options.maxTopicLevels) return { failure: ReasonCode.TopicFilterInvalid };
  const isNew = !session.subscriptions.has(request.filter) && !added.has(request.filter);
  if (options.maxSubscriptionsPerClient > 0 && isNew && session.subscriptions.size + added.size >= options.maxSubscriptionsPerClient) {
    return { failure: ReasonCode.QuotaExceeded };
  }
  if (isNew) added.add(request.filter);
  const wanted = (request.qos < options.maxQos ? request.qos : options.maxQos) as QoS;
  const make = (granted: number): Decision => {
    if (granted >= 0x80) return { failure: granted };
    return {
      subscription: {
        filter: request.filter,
        topicFilter,
        group: shared?.group,
        qos: granted as QoS,
        // a v3 bridge (try_private) never gets its own messages back and sees retain flags as published, as in Mosquitto
        noLocal: request.noLocal || channel.isBridge,
        retainAsPublished: request.retainAsPublished || channel.isBridge,
        retainHandling: request.retainHandling,
        subscriptionId,
        session,
      },
    };
  };
  if (channel.link.privileged === true) return make(wanted);
  const granted = options.authorizer.canSubscribe(channel.identity, request.filter, wanted);
  return granted instanceof Promise ? granted.then(make) : make(granted);
}

function applySubscribe(channel: Channel, packet: SubscribePacket, decisions: readonly Decision[]): void | Promise<void> {
  if (channel.state === 'closed') return;
  const broker = channel.broker;
  const session = channel.session!;
  const logger = broker.options.logger;
  const v5 = channel.version === 5;
  const reasonCodes: number[] = [];
  const refused: string[] = [];
  const fresh: { subscription: Subscription; existed: boolean }[] = [];
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i]!;
    if ('failure' in decision) {
      reasonCodes.push(v5 ? decision.failure : SubackFailure); // [MQTT-3.9.3-2]
      if (v5) refused.push(`'${packet.subscriptions[i]!.filter}': ${reasonCodeName(decision.failure)}`);
      continue;
    }
    const subscription = decision.subscription;
    const previous = session.subscriptions.get(subscription.filter);
    if (previous !== undefined) broker.router.remove(previous); // [MQTT-3.8.4-3] replaces the identical filter
    session.subscriptions.set(subscription.filter, subscription);
    broker.router.add(subscription);
    reasonCodes.push(subscription.qos);
    fresh.push({ subscription, existed: previous !== undefined });
    broker.persistence?.subscribed(session, subscription);
    if (logger.enabled('subscribe')) logger.log('subscribe', `${channel.clientId} ${subscription.qos} ${subscription.filter}`);
  }
  const suback: SubackPacket = { type: 'suback', packetId: packet.packetId, reasonCodes }; // [MQTT-3.8.4-1][MQTT-3.9.3-1]
  if (refused.length > 0) {
    const properties = channel.problem(`refused ${refused.join(', ')}`);
    if (properties !== undefined) suback.properties = properties;
  }
  // a persistent session's subscriptions are durable before SUBACK tells the client they exist
  const durable = session.journal !== undefined ? broker.persistence?.sync() : undefined;
  if (durable !== undefined) return durable.then(() => finishSubscribe(channel, suback, fresh));
  finishSubscribe(channel, suback, fresh);
}

function finishSubscribe(channel: Channel, suback: SubackPacket, fresh: readonly { subscription: Subscription; existed: boolean }[]): void {
  if (channel.state === 'closed') return;
  const broker = channel.broker;
  const session = channel.session!;
  channel.sendAck(suback);

  const now = Date.now();
  for (const { subscription, existed } of fresh) {
    // Retained messages per Retain Handling; never for shared subscriptions (MQTT 5.0 §4.8.2).
    if (subscription.group !== undefined || subscription.retainHandling === 2) continue;
    if (subscription.retainHandling === 1 && existed) continue;
    for (const message of broker.retained.matching(subscription.topicFilter, now)) {
      if (channel.link.privileged !== true && !broker.options.authorizer.canReceive(channel.identity, message.topic)) continue;
      const qos = (subscription.qos < message.qos ? subscription.qos : message.qos) as QoS;
      const ids = subscription.subscriptionId === undefined ? undefined : [subscription.subscriptionId];
      session.deliver(message, qos, true, ids, now); // [MQTT-3.3.1-8] retain flag set on retained delivery
    }
  }
}

export function handleUnsubscribe(channel: Channel, packet: UnsubscribePacket): void {
  const broker = channel.broker;
  const session = channel.session!;
  const logger = broker.options.logger;
  const reasonCodes: number[] = [];
  const authorizer = broker.options.authorizer;
  for (const filter of packet.filters) {
    if (authorizer.canUnsubscribe !== undefined && channel.link.privileged !== true && !authorizer.canUnsubscribe(channel.identity, filter)) {
      reasonCodes.push(ReasonCode.NotAuthorized); // the subscription stays, as in Mosquitto
      continue;
    }
    const subscription = session.subscriptions.get(filter);
    if (subscription === undefined) {
      reasonCodes.push(ReasonCode.NoSubscriptionExisted);
      continue;
    }
    session.subscriptions.delete(filter);
    broker.router.remove(subscription); // [MQTT-3.10.4-1]
    broker.persistence?.unsubscribed(session, filter);
    reasonCodes.push(ReasonCode.Success);
    if (logger.enabled('unsubscribe')) logger.log('unsubscribe', `${channel.clientId} ${filter}`);
  }
  const unsuback: UnsubackPacket = { type: 'unsuback', packetId: packet.packetId }; // [MQTT-3.10.4-4]
  if (channel.version === 5) {
    unsuback.reasonCodes = reasonCodes;
    const missing = packet.filters.filter((_filter, i) => reasonCodes[i] === ReasonCode.NoSubscriptionExisted);
    if (missing.length > 0) {
      const properties = channel.problem(`no subscription existed for ${missing.map((filter) => `'${filter}'`).join(', ')}`);
      if (properties !== undefined) unsuback.properties = properties;
    }
  }
  channel.sendAck(unsuback);
}
