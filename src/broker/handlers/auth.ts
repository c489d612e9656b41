// AUTH: the enhanced authentication exchange of MQTT 5.0 §4.12, during CONNECT and for
// re-authentication of a connected client. The method itself (SCRAM, Kerberos, …) is an
// EnhancedAuthenticator from the options; this file only runs the exchange and its rules.

import type { AuthPacket } from '../../protocol/packets.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AuthStep, EnhancedAuthenticator } from '../../auth/port.js';
import type { Channel } from '../channel.js';

type AuthDone = Extract<AuthStep, { done: true }>;

/** An exchange in progress on a channel: who answers the client's next AUTH, and what happens at the end. */
export interface AuthExchange {
  readonly authenticator: EnhancedAuthenticator;
  state: unknown;
  readonly finish: (step: AuthDone) => void | Promise<void>;
}

/**
 * Applies one step of an exchange: a challenge goes to the client in AUTH 0x18 [MQTT-4.12.0-2]
 * carrying the method [MQTT-4.12.0-5], and the channel waits for its answer; a final step ends it.
 */
export function runAuthStep(channel: Channel, exchange: AuthExchange, result: AuthStep | Promise<AuthStep>): void | Promise<void> {
  const apply = (step: AuthStep): void | Promise<void> => {
    if (channel.state === 'closed') return;
    if (!step.done) {
      exchange.state = step.state;
      channel.authExchange = exchange;
      const properties = { authenticationMethod: exchange.authenticator.method, authenticationData: step.authenticationData };
      channel.link.writePacket({ type: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties }, 5);
      return;
    }
    channel.authExchange = undefined;
    return exchange.finish(step); // a cluster node may read the session before answering
  };
  if (result instanceof Promise) return result.then(apply);
  return apply(result);
}

export function handleAuth(channel: Channel, packet: AuthPacket): void | Promise<void> {
  const method = channel.authMethod;
  // [MQTT-4.12.0-7] no AUTH from a client that gave no Authentication Method on CONNECT
  if (method === undefined) return channel.fail(ReasonCode.ProtocolError, 'AUTH without an authentication method on CONNECT [MQTT-4.12.0-7]');
  if (packet.properties?.authenticationMethod !== method) {
    return channel.fail(ReasonCode.ProtocolError, 'AUTH with another authentication method than CONNECT [MQTT-4.12.0-5]');
  }
  const data = packet.properties.authenticationData;
  const reasonCode = packet.reasonCode ?? ReasonCode.Success;
  const exchange = channel.authExchange;
  if (reasonCode === ReasonCode.ContinueAuthentication && exchange !== undefined) {
    return runAuthStep(channel, exchange, exchange.authenticator.continue(exchange.state, data)); // [MQTT-4.12.0-3]
  }
  if (reasonCode === ReasonCode.ReAuthenticate && exchange === undefined && channel.state === 'connected') {
    return reauthenticate(channel, method, data);
  }
  return channel.fail(ReasonCode.ProtocolError, `unexpected AUTH 0x${reasonCode.toString(16).padStart(2, '0')}`);
}

/** [MQTT-4.12.1-1] re-authentication: the same exchange; AUTH 0x00 on success, DISCONNECT on failure [MQTT-4.12.1-2]. */
function reauthenticate(channel: Channel, method: string, data: Buffer | undefined): void | Promise<void> {
  const authenticator = channel.broker.options.enhancedAuthenticators.find((candidate) => candidate.method === method)!;
  const exchange: AuthExchange = {
    authenticator,
    state: undefined,
    finish: (step) => {
      if (step.reasonCode !== ReasonCode.Success) {
        channel.broker.options.logger.log('notice', `Client ${channel.clientId} disconnected, re-authentication failed.`);
        // 0x86 exists for CONNACK only; a DISCONNECT says 0x87 Not authorized
        return channel.disconnect(step.reasonCode === ReasonCode.BadUserNameOrPassword ? ReasonCode.NotAuthorized : step.reasonCode, 're-authentication failed');
      }
      if (step.username !== undefined) channel.setUsername(step.username);
      const properties = step.authenticationData === undefined ? { authenticationMethod: method } : { authenticationMethod: method, authenticationData: step.authenticationData };
      channel.link.writePacket({ type: 'auth', reasonCode: ReasonCode.Success, properties }, 5);
    },
  };
  return runAuthStep(channel, exchange, authenticator.start({ clientId: channel.clientId, username: channel.username, authenticationData: data }));
}
