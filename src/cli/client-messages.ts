// The texts libmosquitto prints for CONNACK codes, v5 reason codes and socket errors
// (mosquitto_connack_string, mosquitto_reason_string, strerror), so scripts that grep them keep working.

import { ConnackReturnCode, ReasonCode } from '../protocol/reason-codes.js';

const connackStrings: Readonly<Record<number, string>> = {
  [ConnackReturnCode.Accepted]: 'Connection Accepted.',
  [ConnackReturnCode.UnacceptableProtocolVersion]: 'Connection Refused: unacceptable protocol version.',
  [ConnackReturnCode.IdentifierRejected]: 'Connection Refused: identifier rejected.',
  [ConnackReturnCode.ServerUnavailable]: 'Connection Refused: broker unavailable.',
  [ConnackReturnCode.BadUserNameOrPassword]: 'Connection Refused: bad user name or password.',
  [ConnackReturnCode.NotAuthorized]: 'Connection Refused: not authorised.',
};

/** MQTT 3.1/3.1.1 CONNACK return code → text. */
export function connackString(code: number): string {
  return connackStrings[code] ?? 'Connection Refused: unknown reason.';
}

const reasonStrings: Readonly<Record<number, string>> = {
  [ReasonCode.Success]: 'Success',
  [ReasonCode.GrantedQoS1]: 'Granted QoS 1',
  [ReasonCode.GrantedQoS2]: 'Granted QoS 2',
  [ReasonCode.DisconnectWithWillMessage]: 'Disconnect with Will Message',
  [ReasonCode.NoMatchingSubscribers]: 'No matching subscribers',
  [ReasonCode.NoSubscriptionExisted]: 'No subscription existed',
  [ReasonCode.ContinueAuthentication]: 'Continue authentication',
  [ReasonCode.ReAuthenticate]: 'Re-authenticate',
  [ReasonCode.UnspecifiedError]: 'Unspecified error',
  [ReasonCode.MalformedPacket]: 'Malformed Packet',
  [ReasonCode.ProtocolError]: 'Protocol Error',
  [ReasonCode.ImplementationSpecificError]: 'Implementation specific error',
  [ReasonCode.UnsupportedProtocolVersion]: 'Unsupported Protocol Version',
  [ReasonCode.ClientIdentifierNotValid]: 'Client Identifier not valid',
  [ReasonCode.BadUserNameOrPassword]: 'Bad User Name or Password',
  [ReasonCode.NotAuthorized]: 'Not authorized',
  [ReasonCode.ServerUnavailable]: 'Server unavailable',
  [ReasonCode.ServerBusy]: 'Server busy',
  [ReasonCode.Banned]: 'Banned',
  [ReasonCode.ServerShuttingDown]: 'Server shutting down',
  [ReasonCode.BadAuthenticationMethod]: 'Bad authentication method',
  [ReasonCode.KeepAliveTimeout]: 'Keep Alive timeout',
  [ReasonCode.SessionTakenOver]: 'Session taken over',
  [ReasonCode.TopicFilterInvalid]: 'Topic Filter invalid',
  [ReasonCode.TopicNameInvalid]: 'Topic Name invalid',
  [ReasonCode.PacketIdentifierInUse]: 'Packet Identifier in use',
  [ReasonCode.PacketIdentifierNotFound]: 'Packet Identifier not found',
  [ReasonCode.ReceiveMaximumExceeded]: 'Receive Maximum exceeded',
  [ReasonCode.TopicAliasInvalid]: 'Topic Alias invalid',
  [ReasonCode.PacketTooLarge]: 'Packet too large',
  [ReasonCode.MessageRateTooHigh]: 'Message rate too high',
  [ReasonCode.QuotaExceeded]: 'Quota exceeded',
  [ReasonCode.AdministrativeAction]: 'Administrative action',
  [ReasonCode.PayloadFormatInvalid]: 'Payload format invalid',
  [ReasonCode.RetainNotSupported]: 'Retain not supported',
  [ReasonCode.QoSNotSupported]: 'QoS not supported',
  [ReasonCode.UseAnotherServer]: 'Use another server',
  [ReasonCode.ServerMoved]: 'Server moved',
  [ReasonCode.SharedSubscriptionsNotSupported]: 'Shared Subscriptions not supported',
  [ReasonCode.ConnectionRateExceeded]: 'Connection rate exceeded',
  [ReasonCode.MaximumConnectTime]: 'Maximum connect time',
  [ReasonCode.SubscriptionIdentifiersNotSupported]: 'Subscription identifiers not supported',
  [ReasonCode.WildcardSubscriptionsNotSupported]: 'Wildcard Subscriptions not supported',
};

/** MQTT 5 reason code → text. */
export function reasonString(code: number): string {
  return reasonStrings[code] ?? 'Unknown reason';
}

/** "Connection error: …" as the clients print a refused CONNACK. */
export function connectionErrorLine(protocolVersion: number, code: number, alwaysReasonStrings = false): string {
  if (protocolVersion === 5 || alwaysReasonStrings) {
    const suffix = code === ReasonCode.UnsupportedProtocolVersion
      ? '. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.' : '';
    return `Connection error: ${reasonString(code)}${suffix}\n`;
  }
  return `Connection error: ${connackString(code)}\n`;
}

const errnoTexts: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPIPE: 'Broken pipe',
};

/** The stderr line for a failed TCP connect, as client_connect() words it. */
export function socketErrorLine(code: string | undefined, message: string): string {
  if (code === 'ENOTFOUND' || code?.startsWith('EAI_')) return 'Unable to connect (Lookup error.).\n';
  return `Error: ${(code && errnoTexts[code]) ?? message}\n`;
}

/** libmosquitto error numbers the clients exit with (include/mosquitto.h). */
export const MosquittoError = {
  Success: 0,
  Protocol: 2,
  Invalid: 3,
  ConnectionRefused: 5,
  ConnectionLost: 7,
  Tls: 8,
  Timeout: 27,
} as const;

/** mosquitto_strerror() for the errors above. */
export function mosquittoStrerror(code: number): string {
  switch (code) {
    case MosquittoError.Protocol: return 'A network protocol error occurred when communicating with the broker.';
    case MosquittoError.ConnectionRefused: return 'The connection was refused.';
    case MosquittoError.ConnectionLost: return 'The connection was lost.';
    case MosquittoError.Tls: return 'A TLS error occurred.';
    case MosquittoError.Timeout: return 'Timed out';
    default: return 'Unknown error.';
  }
}
