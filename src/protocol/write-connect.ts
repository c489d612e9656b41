// Encoders for CONNECT, CONNACK, DISCONNECT and AUTH (MQTT 5.0 §3.1, §3.2, §3.14, §3.15).
// For 3.1 and 3.1.1 properties and 5.0-only fields are left out.

import type { AuthPacket, ConnackPacket, ConnectPacket, DisconnectPacket, ProtocolVersion } from './packets.js';
import { PacketTypeNumber as T } from './packets.js';
import { PropertyContext, propertiesSize, writeProperties } from './properties.js';
import {
  binaryFieldSize,
  finishPacket,
  startPacket,
  stringFieldSize,
  varIntSize,
  writeBinary,
  writeString,
} from './wire.js';

/** The protocol name and level of each version (§3.1.2.1, §3.1.2.2). */
const PROTOCOL_NAME: Record<ProtocolVersion, string> = { 3: 'MQIsdp', 4: 'MQTT', 5: 'MQTT' };

/** Writes a CONNECT; the name and level come from `version`, not from packet.protocolName/protocolVersion. */
export function encodeConnect(packet: ConnectPacket, version: ProtocolVersion): Buffer {
  const name = PROTOCOL_NAME[version];
  const will = packet.will;
  const v5 = version === 5;
  let remainingLength = 2 + name.length + 1 + 1 + 2; // name, level, flags, keep alive
  const propsSize = v5 ? propertiesSize(packet.properties, PropertyContext.connect) : 0;
  if (v5) remainingLength += varIntSize(propsSize) + propsSize;
  remainingLength += stringFieldSize(packet.clientId);
  const willPropsSize = v5 && will !== undefined ? propertiesSize(will.properties, PropertyContext.will) : 0;
  if (will !== undefined) {
    if (v5) remainingLength += varIntSize(willPropsSize) + willPropsSize;
    remainingLength += stringFieldSize(will.topic) + binaryFieldSize(will.payload);
  }
  if (packet.username !== undefined) remainingLength += stringFieldSize(packet.username);
  if (packet.password !== undefined) remainingLength += binaryFieldSize(packet.password);

  let flags = packet.clean ? 0x02 : 0;
  if (will !== undefined) flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  if (packet.password !== undefined) flags |= 0x40;
  if (packet.username !== undefined) flags |= 0x80;

  const buf = startPacket(T.connect << 4, remainingLength);
  let pos = buf.length - remainingLength;
  pos = writeString(buf, pos, name, name.length);
  buf[pos++] = version | (packet.bridge ? 0x80 : 0);
  buf[pos++] = flags;
  pos = buf.writeUInt16BE(packet.keepalive, pos);
  if (v5) pos = writeProperties(buf, pos, packet.properties, PropertyContext.connect, propsSize);
  pos = writeString(buf, pos, packet.clientId);
  if (will !== undefined) {
    if (v5) pos = writeProperties(buf, pos, will.properties, PropertyContext.will, willPropsSize);
    pos = writeString(buf, pos, will.topic);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (packet.username !== undefined) pos = writeString(buf, pos, packet.username);
  if (packet.password !== undefined) pos = writeBinary(buf, pos, packet.password);
  return finishPacket(buf, pos);
}

/** Writes a CONNACK; for 3.1/3.1.1 reasonCode is written as the return code (the caller maps it). */
export function encodeConnack(packet: ConnackPacket, version: ProtocolVersion): Buffer {
  const propsSize = version === 5 ? propertiesSize(packet.properties, PropertyContext.connack) : 0;
  const remainingLength = 2 + (version === 5 ? varIntSize(propsSize) + propsSize : 0);
  const buf = startPacket(T.connack << 4, remainingLength);
  let pos = buf.length - remainingLength;
  // 3.1 has no Session Present: its first byte is reserved.
  buf[pos++] = version !== 3 && packet.sessionPresent ? 1 : 0;
  pos = buf.writeUInt8(packet.reasonCode, pos);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, PropertyContext.connack, propsSize);
  return finishPacket(buf, pos);
}

/** 3.1.1: the fixed header alone. 5.0: the shortest form the reason code and properties allow (§3.14.2.1). */
export function encodeDisconnect(packet: DisconnectPacket, version: ProtocolVersion): Buffer {
  const byte0 = T.disconnect << 4;
  if (version !== 5) return finishPacket(startPacket(byte0, 0), 2);
  const reasonCode = packet.reasonCode ?? 0;
  const propsSize = propertiesSize(packet.properties, PropertyContext.disconnect);
  if (propsSize === 0 && reasonCode === 0) return finishPacket(startPacket(byte0, 0), 2);
  const remainingLength = propsSize === 0 ? 1 : 1 + varIntSize(propsSize) + propsSize;
  const buf = startPacket(byte0, remainingLength);
  let pos = buf.writeUInt8(reasonCode, buf.length - remainingLength);
  if (propsSize > 0) pos = writeProperties(buf, pos, packet.properties, PropertyContext.disconnect, propsSize);
  return finishPacket(buf, pos);
}

/** AUTH exists only in 5.0; reason code and properties are omitted together when 0x00 and empty (§3.15.2.1). */
export function encodeAuth(packet: AuthPacket, version: ProtocolVersion): Buffer {
  if (version !== 5) throw new RangeError(`AUTH does not exist in MQTT level ${version}`);
  const byte0 = T.auth << 4;
  const reasonCode = packet.reasonCode ?? 0;
  const propsSize = propertiesSize(packet.properties, PropertyContext.auth);
  if (propsSize === 0 && reasonCode === 0) return finishPacket(startPacket(byte0, 0), 2);
  const remainingLength = 1 + varIntSize(propsSize) + propsSize;
  const buf = startPacket(byte0, remainingLength);
  let pos = buf.writeUInt8(reasonCode, buf.length - remainingLength);
  pos = writeProperties(buf, pos, packet.properties, PropertyContext.auth, propsSize);
  return finishPacket(buf, pos);
}
