// Decoders for the packets that open, close and authenticate a connection: CONNECT, CONNACK,
// DISCONNECT and AUTH (MQTT 5.0 §3.1, §3.2, §3.14, §3.15; 3.1.1 §3.1, §3.2, §3.14).

import type { AuthPacket, ConnackPacket, ConnectPacket, DisconnectPacket, Properties, QoS, Will } from './packets.js';
import { statementFor, type DecodeContext, type PacketReader } from './packet-reader.js';
import { PropertyContext, readProperties } from './properties.js';
import { ReasonCode } from './reason-codes.js';
import { checkResponseTopic } from './parse-publish.js';
import { validateTopicName } from './validate.js';
import {
  AUTH_REASON_CODES,
  CONNACK_REASON_CODES,
  DISCONNECT_REASON_CODES,
} from './valid-reason-codes.js';

const ConnectFlag = {
  Reserved: 0x01,
  CleanStart: 0x02,
  Will: 0x04,
  WillQoSShift: 3,
  WillRetain: 0x20,
  Password: 0x40,
  UserName: 0x80,
} as const;

/** Bit 7 of the protocol level: a bridge announcing itself (Mosquitto's try_private). */
const BRIDGE_BIT = 0x80;

export function parseConnect(r: PacketReader, ctx: DecodeContext): ConnectPacket {
  const protocolName = r.utf8('Protocol Name');
  const levelByte = r.u8('Protocol Level');
  const level = levelByte & ~BRIDGE_BIT;
  // Switch now, so that if the rest of the packet is bad the broker still answers in the client's version.
  if (level === 3 || level === 4 || level === 5) ctx.protocolVersion = level;
  if (protocolName !== 'MQTT' && protocolName !== 'MQIsdp') {
    r.malformed(`Protocol Name "${protocolName}" is neither "MQTT" nor "MQIsdp"`, 'MQTT-3.1.2-1');
  }
  // 3.1 calls itself "MQIsdp" at level 3; 3.1.1 and 5.0 call themselves "MQTT" at levels 4 and 5.
  const supported = protocolName === 'MQIsdp' ? level === 3 : level === 4 || level === 5;
  if (!supported) {
    r.fail(
      ReasonCode.UnsupportedProtocolVersion,
      `unsupported protocol "${protocolName}" level ${level}`,
      'MQTT-3.1.2-2',
    );
  }
  const version = level as 3 | 4 | 5;

  const flags = r.u8('Connect Flags');
  if ((flags & ConnectFlag.Reserved) !== 0) r.malformed('the reserved Connect Flags bit 0 must be 0', 'MQTT-3.1.2-3');
  const willFlag = (flags & ConnectFlag.Will) !== 0;
  const willQoS = (flags >> ConnectFlag.WillQoSShift) & 0x03;
  const willRetain = (flags & ConnectFlag.WillRetain) !== 0;
  const usernameFlag = (flags & ConnectFlag.UserName) !== 0;
  const passwordFlag = (flags & ConnectFlag.Password) !== 0;
  if (!willFlag) {
    if (willQoS !== 0) {
      r.malformed('Will QoS must be 0 when the Will Flag is 0', statementFor(version, 'MQTT-3.1.2-11', 'MQTT-3.1.2-13'));
    }
    if (willRetain) {
      r.malformed('Will Retain must be 0 when the Will Flag is 0', statementFor(version, 'MQTT-3.1.2-13', 'MQTT-3.1.2-15'));
    }
  } else if (willQoS === 3) {
    r.malformed('Will QoS 3 is not a QoS level', statementFor(version, 'MQTT-3.1.2-12', 'MQTT-3.1.2-14'));
  }
  // 5.0 allows a password without a user name; 3.1.1 does not (and Mosquitto holds 3.1 to the same rule).
  if (version !== 5 && passwordFlag && !usernameFlag) {
    r.protocolError('the Password Flag is set without the User Name Flag', 'MQTT-3.1.2-22');
  }
  const keepalive = r.u16('Keep Alive');
  const properties = version === 5 ? readProperties(r, PropertyContext.connect) : undefined;
  if (properties !== undefined) {
    if (properties.authenticationData !== undefined && properties.authenticationMethod === undefined) {
      r.protocolError('Authentication Data without an Authentication Method (§3.1.2.11.10)');
    }
    // The session keeps these past the packet: copy them off the socket chunk.
    if (properties.authenticationData !== undefined) properties.authenticationData = Buffer.from(properties.authenticationData);
  }
  const clientId = r.utf8('Client Identifier');

  let will: Will | undefined;
  if (willFlag) {
    const willProperties = version === 5 ? readProperties(r, PropertyContext.will) : undefined;
    if (willProperties !== undefined) {
      checkResponseTopic(r, willProperties);
      if (willProperties.correlationData !== undefined) {
        willProperties.correlationData = Buffer.from(willProperties.correlationData);
      }
    }
    const topic = r.utf8('Will Topic');
    const topicError = validateTopicName(topic);
    if (topicError !== undefined) r.failWith(topicError, 'Will Topic');
    // The Will lives as long as the session: copy it rather than keep a view of the socket chunk.
    const payload = r.binary('Will Payload', true);
    will = newWill(topic, payload, willQoS as QoS, willRetain, willProperties);
  }

  // MQTT 3.1 clients exist that set a flag and then leave the field out; Mosquitto accepts that for 3.1 only.
  const lenient31 = version === 3;
  let username: string | undefined;
  if (usernameFlag && !(lenient31 && r.remaining === 0)) username = r.utf8('User Name');
  let password: Buffer | undefined;
  if (passwordFlag && !(lenient31 && r.remaining === 0)) password = r.binary('Password', true);
  r.expectEnd('the CONNECT payload');

  const packet: ConnectPacket = {
    type: 'connect',
    protocolName,
    protocolVersion: version,
    bridge: (levelByte & BRIDGE_BIT) !== 0,
    clean: (flags & ConnectFlag.CleanStart) !== 0,
    keepalive,
    clientId,
  };
  if (will !== undefined) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function newWill(topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: Properties | undefined): Will {
  const will: Will = { topic, payload, qos, retain };
  if (properties !== undefined) will.properties = properties;
  return will;
}

export function parseConnack(r: PacketReader, ctx: DecodeContext): ConnackPacket {
  const version = ctx.protocolVersion;
  const flags = r.u8('Connect Acknowledge Flags');
  // In 3.1 this byte is reserved and unused; 3.1.1 and 5.0 reserve bits 7-1 ([MQTT-3.2.2-1] in 5.0).
  if (version !== 3 && (flags & 0xfe) !== 0) {
    r.malformed('reserved Connect Acknowledge Flags bits 7-1 must be 0', version === 5 ? 'MQTT-3.2.2-1' : undefined);
  }
  const sessionPresent = version !== 3 && (flags & 0x01) !== 0;
  const reasonCode = r.u8('Connect Reason Code');
  if (version === 5 && !CONNACK_REASON_CODES.has(reasonCode)) {
    r.protocolError(`0x${reasonCode.toString(16)} is not a CONNACK reason code`, 'MQTT-3.2.2-8');
  }
  if (sessionPresent && reasonCode !== 0) {
    r.protocolError('Session Present must be 0 with a non-zero reason code', statementFor(version, 'MQTT-3.2.2-6', 'MQTT-3.2.2-4'));
  }
  const properties = version === 5 ? readProperties(r, PropertyContext.connack) : undefined;
  r.expectEnd('the CONNACK variable header');
  const packet: ConnackPacket = { type: 'connack', sessionPresent, reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function parseDisconnect(r: PacketReader, ctx: DecodeContext): DisconnectPacket {
  // 3.1.1 DISCONNECT is the fixed header alone; 5.0 may omit everything when the reason is 0 (§3.14.2.1).
  if (ctx.protocolVersion !== 5 || r.remaining === 0) {
    r.expectEnd('the fixed header');
    return { type: 'disconnect' };
  }
  const reasonCode = r.u8('Disconnect Reason Code');
  if (!DISCONNECT_REASON_CODES.has(reasonCode)) {
    r.protocolError(`0x${reasonCode.toString(16)} is not a DISCONNECT reason code`, 'MQTT-3.14.2-1');
  }
  // "If the Remaining Length is less than 2, a value of 0 is used" for the Property Length (§3.14.2.2.1).
  const properties = r.remaining === 0 ? undefined : readProperties(r, PropertyContext.disconnect);
  r.expectEnd('the DISCONNECT properties');
  if (ctx.side === 'client' && properties?.sessionExpiryInterval !== undefined) {
    r.protocolError('a Server must not send Session Expiry Interval on DISCONNECT', 'MQTT-3.14.2-2');
  }
  const packet: DisconnectPacket = { type: 'disconnect', reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function parseAuth(r: PacketReader): AuthPacket {
  // Reason Code and Property Length are omitted together, and only for 0x00 with no properties (§3.15.2.1).
  if (r.remaining === 0) return { type: 'auth' };
  const reasonCode = r.u8('Authenticate Reason Code');
  if (!AUTH_REASON_CODES.has(reasonCode)) {
    r.protocolError(`0x${reasonCode.toString(16)} is not an AUTH reason code`, 'MQTT-3.15.2-1');
  }
  const properties = readProperties(r, PropertyContext.auth);
  r.expectEnd('the AUTH properties');
  const packet: AuthPacket = { type: 'auth', reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
