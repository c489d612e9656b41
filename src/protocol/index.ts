// The protocol layer's public surface: packet model, codec, validators, reason codes and errors.

export * from './packets.js';
export * from './reason-codes.js';
export * from './errors.js';
export { PacketParser, type ParserOptions } from './parser.js';
export type { ParserSide } from './packet-reader.js';
export { encodePacket, encodePublish, PUBLISH_DUP_FLAG, type EncodedPublish } from './writer.js';
export {
  validateTopicName,
  validateTopicFilter,
  parseSharedFilter,
  isValidUtf8String,
  isSharedFilter,
  hasWildcard,
  type SharedFilter,
} from './validate.js';
export { PropertyId } from './properties.js';
export { MAX_PACKET_SIZE, MAX_VARIABLE_BYTE_INTEGER } from './wire.js';
