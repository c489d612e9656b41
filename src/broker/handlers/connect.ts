// CONNECT → CONNACK: client id rules, keepalive cap, will checks, authentication, session takeover
// and resumption, and the CONNACK properties that tell a v5 client what this broker allows.

import { randomUUID } from 'node:crypto';
import type { ConnackPacket, ConnectPacket, Properties } from '../../protocol/packets.js';
import { ReasonCode, connackReturnCodeV3, reasonCodeName } from '../../protocol/reason-codes.js';
import { validateTopicName } from '../../protocol/validate.js';
import type { AuthenticateResult } from '../../auth/port.js';
import type { Channel } from '../channel.js';
import { runAuthStep, type AuthExchange } from './auth.js';
import { NEVER_EXPIRES } from '../session.js';

/** Mosquitto's protocol numbers in its connection log line: p1 = 3.1, p2 = 3.1.1, p5 = 5.0. */
const logProtocol = { 3: 'p1', 4: 'p2', 5: 'p5' } as const;

export function handleConnect(channel: Channel, packet: ConnectPacket): void | Promise<void> {
  const options = channel.broker.options;
  const v5 = packet.protocolVersion === 5;
  channel.version = packet.protocolVersion;
  if (v5) {
    channel.problemInformation = packet.properties?.requestProblemInformation !== 0;
    const maximumPacketSize = packet.properties?.maximumPacketSize;
    if (maximumPacketSize !== undefined) channel.peerMaxPacketSize = maximumPacketSize; // a refusing CONNACK fits it too
  }

  if (options.serverReference !== '') {
    // MQTT 5.0 §4.11 server redirection: the client is told where to go instead
    const reason = options.serverMoved ? ReasonCode.ServerMoved : ReasonCode.UseAnotherServer;
    return refuseConnect(channel, reason, `redirected to ${options.serverReference}`, false, { serverReference: options.serverReference });
  }

  let clientId = packet.clientId;
  let assignedClientId: string | undefined;
  if (clientId === '') {
    // [MQTT-3.1.3-7][MQTT-3.1.3-8] an empty id needs a clean session in 3.1.1; 3.1 requires an id
    if (packet.protocolVersion === 3 || (packet.protocolVersion === 4 && !packet.clean) || !options.allowZeroLengthClientId) {
      return refuseConnect(channel, ReasonCode.ClientIdentifierNotValid, 'empty client id');
    }
    clientId = assignedClientId = `${options.autoIdPrefix}${randomUUID().toUpperCase()}`; // [MQTT-3.1.3-6]
  }

  let keepalive = packet.keepalive;
  let serverKeepAlive: number | undefined;
  if (options.maxKeepalive > 0 && (keepalive === 0 || keepalive > options.maxKeepalive)) {
    // As Mosquitto: v5 clients are told the cap (Server Keep Alive [MQTT-3.2.2-21]), v3 clients are refused.
    if (!v5) return refuseConnect(channel, ReasonCode.ClientIdentifierNotValid, `keepalive ${keepalive} above max_keepalive`);
    keepalive = serverKeepAlive = options.maxKeepalive;
  }

  const will = packet.will;
  if (will !== undefined) {
    const invalid = validateTopicName(will.topic);
    if (invalid !== undefined) return refuseConnect(channel, ReasonCode.TopicNameInvalid, `invalid will topic: ${invalid.message}`);
    if (will.qos > options.maxQos) return refuseConnect(channel, ReasonCode.QoSNotSupported, 'will QoS above maximum QoS'); // [MQTT-3.2.2-12]
    if (will.retain && !options.retainAvailable) return refuseConnect(channel, ReasonCode.RetainNotSupported, 'retained will not available'); // [MQTT-3.2.2-13]
  }

  // use_identity_as_username: the certificate names the client and the password file is not consulted
  const certificateIdentity = channel.link.certificateIdentity;
  if (certificateIdentity === null) return refuseConnect(channel, ReasonCode.NotAuthorized, 'no client certificate');
  if (certificateIdentity !== undefined) {
    return acceptConnect(channel, packet, clientId, certificateIdentity, keepalive, { assignedClientId, serverKeepAlive });
  }

  if (channel.link.privileged === true) {
    return acceptConnect(channel, packet, clientId, packet.username, keepalive, { assignedClientId, serverKeepAlive });
  }

  const method = v5 ? packet.properties?.authenticationMethod : undefined;
  if (method !== undefined) return authenticateEnhanced(channel, packet, clientId, method, keepalive, { assignedClientId, serverKeepAlive });

  const result = options.authenticator.authenticate({
    clientId,
    username: packet.username,
    password: packet.password,
    remoteAddress: channel.link.remoteAddress,
    listener: channel.link.listener,
    connect: packet,
  });
  const finish = (outcome: AuthenticateResult): void | Promise<void> => {
    if (channel.state !== 'awaiting-connect') return; // the client went away during the check
    if (outcome.reasonCode !== ReasonCode.Success) {
      channel.clientId = clientId;
      channel.broker.options.logger.log('notice', `Client ${clientId} disconnected, not authorised.`);
      return refuseConnect(channel, outcome.reasonCode, 'not authorised', true);
    }
    // Kept for Broker.reauthenticate; the password is copied so it pins no socket buffer, the will is not needed.
    channel.credentials = { ...packet, clientId, will: undefined, password: packet.password === undefined ? undefined : Buffer.from(packet.password) };
    return acceptConnect(channel, packet, clientId, outcome.username ?? packet.username, keepalive, { assignedClientId, serverKeepAlive });
  };
  if (result instanceof Promise) return result.then(finish);
  return finish(result);
}

interface ConnackExtras {
  assignedClientId: string | undefined;
  serverKeepAlive: number | undefined;
  responseInformation?: string;
  authenticationMethod?: string;
  authenticationData?: Buffer | undefined;
}

/**
 * MQTT 5.0 §4.12 enhanced authentication: the method named on CONNECT runs its exchange (AUTH 0x18
 * both ways) instead of the password check, and its verdict decides the CONNACK.
 */
function authenticateEnhanced(channel: Channel, packet: ConnectPacket, clientId: string, method: string, keepalive: number, extras: ConnackExtras): void | Promise<void> {
  const authenticator = channel.broker.options.enhancedAuthenticators.find((candidate) => candidate.method === method);
  if (authenticator === undefined) return refuseConnect(channel, ReasonCode.BadAuthenticationMethod, `unsupported authentication method ${method}`); // [MQTT-4.12.0-1]
  channel.authMethod = method;
  const exchange: AuthExchange = {
    authenticator,
    state: undefined,
    finish: (step) => {
      if (channel.state !== 'awaiting-connect') return;
      if (step.reasonCode !== ReasonCode.Success) {
        channel.clientId = clientId;
        channel.broker.options.logger.log('notice', `Client ${clientId} disconnected, not authorised.`);
        return refuseConnect(channel, step.reasonCode, 'not authorised', true); // [MQTT-4.12.0-4]
      }
      // [MQTT-4.12.0-5] the successful CONNACK carries the method
      return acceptConnect(channel, packet, clientId, step.username ?? packet.username, keepalive, { ...extras, authenticationMethod: method, authenticationData: step.authenticationData });
    },
  };
  return runAuthStep(channel, exchange, authenticator.start({ clientId, username: packet.username, authenticationData: packet.properties?.authenticationData }));
}

/**
 * A cluster node with a shared store first has the session handed over by the node that held it
 * and reads it (Broker.prepareSession); everywhere else the CONNECT is answered at once.
 */
function acceptConnect(channel: Channel, packet: ConnectPacket, clientId: string, username: string | undefined, keepalive: number, extras: ConnackExtras): void | Promise<void> {
  const preparing = channel.broker.prepareSession(clientId, packet.clean);
  if (preparing === undefined) return openConnection(channel, packet, clientId, username, keepalive, extras);
  return preparing.then(
    () => {
      if (channel.state === 'awaiting-connect') openConnection(channel, packet, clientId, username, keepalive, extras);
    },
    (error: unknown) => {
      channel.clientId = clientId;
      if (channel.state === 'awaiting-connect') refuseConnect(channel, ReasonCode.ServerUnavailable, `its session could not be read: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
}

function openConnection(channel: Channel, packet: ConnectPacket, clientId: string, username: string | undefined, keepalive: number, extras: ConnackExtras): void {
  const broker = channel.broker;
  const options = broker.options;
  const v5 = packet.protocolVersion === 5;
  const now = Date.now();

  const previous = broker.channels.get(clientId);
  if (previous !== undefined) {
    // [MQTT-3.1.4-3] the existing connection is closed; v5 clients are told why (0x8E)
    options.logger.log('notice', `Client ${clientId} already connected, closing old connection.`);
    previous.takenOver(packet.clean);
  }
  broker.cancelWill(clientId); // [MQTT-3.1.3-9] reconnected before the will delay ran out

  const expiryInterval = v5 ? (packet.properties?.sessionExpiryInterval ?? 0) : packet.clean ? 0 : options.persistentClientExpiration || NEVER_EXPIRES;
  const clientReceiveMaximum = packet.properties?.receiveMaximum ?? 65535;
  const clientMaxPacketSize = packet.properties?.maximumPacketSize ?? Number.MAX_SAFE_INTEGER;
  const limits = broker.sessionLimits(clientReceiveMaximum, clientMaxPacketSize, v5 ? (packet.properties?.topicAliasMaximum ?? 0) : 0);
  const { session, present } = broker.openSession(clientId, packet.clean, packet.protocolVersion, limits);
  session.expiryInterval = expiryInterval;

  channel.clientId = clientId;
  channel.username = username;
  channel.isBridge = packet.bridge && !v5;
  channel.keepalive = keepalive;
  channel.will = packet.will;
  channel.connectExpiryWasZero = expiryInterval === 0;
  broker.channels.set(clientId, channel);
  channel.connected(session);
  broker.cluster?.clientConnected(channel.identity, packet.clean, packet.will, expiryInterval);

  const connack: ConnackPacket = { type: 'connack', sessionPresent: present, reasonCode: ReasonCode.Success };
  if (v5) {
    // MQTT 5.0 §3.1.2.11.7: Response Information only when asked for, and only if configured
    if (packet.properties?.requestResponseInformation === 1 && options.responseInformationPrefix !== '') {
      extras.responseInformation = `${options.responseInformationPrefix}/${clientId}`;
    }
    const properties = connackProperties(channel, extras);
    if (properties !== undefined) connack.properties = properties;
  }
  channel.link.writePacket(connack, packet.protocolVersion);

  broker.stats.clientsAccepted++;
  const user = username === undefined ? '' : `, u'${username}'`;
  options.logger.log(
    'information',
    `New client connected from ${channel.link.remoteAddress} as ${clientId} (${logProtocol[packet.protocolVersion]}, c${packet.clean ? 1 : 0}, k${keepalive}${user}).`,
  );
  session.attach(channel.link, packet.protocolVersion, limits, now, (packetId) => channel.link.writePacket({ type: 'pubrel', packetId }, packet.protocolVersion));
  broker.persistence?.sessionConnected(session); // recorded while its expiry interval is not 0
}

/** CONNACK properties: only those that differ from the spec's defaults, each from real configuration. */
function connackProperties(channel: Channel, extras: ConnackExtras): Properties | undefined {
  const options = channel.broker.options;
  const properties: Properties = {};
  if (extras.assignedClientId !== undefined) properties.assignedClientIdentifier = extras.assignedClientId; // [MQTT-3.2.2-16]
  if (extras.serverKeepAlive !== undefined) properties.serverKeepAlive = extras.serverKeepAlive;
  if (options.receiveMaximum < 65535) properties.receiveMaximum = options.receiveMaximum;
  if (options.maxQos < 2) properties.maximumQoS = options.maxQos as 0 | 1;
  if (!options.retainAvailable) properties.retainAvailable = 0;
  if (options.maxPacketSize < 268_435_460) properties.maximumPacketSize = options.maxPacketSize;
  if (options.maxTopicAlias > 0) properties.topicAliasMaximum = options.maxTopicAlias;
  if (extras.responseInformation !== undefined) properties.responseInformation = extras.responseInformation;
  if (extras.authenticationMethod !== undefined) properties.authenticationMethod = extras.authenticationMethod;
  if (extras.authenticationData !== undefined) properties.authenticationData = extras.authenticationData;
  return Object.keys(properties).length === 0 ? undefined : properties;
}

/**
 * Refuses a CONNECT: a v5 client gets CONNACK with the reason code [MQTT-3.2.2-6]; a 3.1/3.1.1
 * client gets the closest return code when 3.1.1 has one (1–5), else the connection just closes
 * [MQTT-3.1.4-1]. Either way the connection is then closed [MQTT-3.2.2-7].
 */
export function refuseConnect(channel: Channel, reasonCode: number, why: string, logged = false, extra?: Properties): void {
  if (channel.state === 'closed') return;
  const version = channel.link.parserVersion;
  if (!logged) channel.broker.options.logger.log('notice', `Client ${channel.describe()} refused: ${why} (${reasonCodeName(reasonCode)}).`);
  if (version === 5 && reasonCode !== ReasonCode.UnsupportedProtocolVersion) {
    const packet: ConnackPacket = { type: 'connack', sessionPresent: false, reasonCode };
    const properties: Properties = { ...extra };
    if (channel.problemInformation) properties.reasonString = why;
    if (Object.keys(properties).length > 0) packet.properties = properties;
    channel.link.writePacket(channel.trimmedToPeerLimit(packet), 5); // [MQTT-3.2.2-19][MQTT-3.2.2-20]
  } else if (reasonCode !== ReasonCode.MalformedPacket && reasonCode !== ReasonCode.ProtocolError) {
    // [MQTT-3.1.2-2] an unsupported protocol level gets return code 1 in the 3.1.1 format
    channel.link.writePacket({ type: 'connack', sessionPresent: false, reasonCode: connackReturnCodeV3(reasonCode) }, 4);
  }
  channel.closeQuietly();
}
