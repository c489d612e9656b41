// The reason codes each MQTT 5 packet may carry (MQTT 5.0 §3.x.2.1 tables). A sender MUST use one of
// them ([MQTT-3.2.2-8], [MQTT-3.4.2-1], ...), so a code outside its packet's list is a Protocol Error.

import { ReasonCode as R } from './reason-codes.js';

export const CONNACK_REASON_CODES: ReadonlySet<number> = new Set([
  R.Success, R.UnspecifiedError, R.MalformedPacket, R.ProtocolError, R.ImplementationSpecificError,
  R.UnsupportedProtocolVersion, R.ClientIdentifierNotValid, R.BadUserNameOrPassword, R.NotAuthorized,
  R.ServerUnavailable, R.ServerBusy, R.Banned, R.BadAuthenticationMethod, R.TopicNameInvalid,
  R.PacketTooLarge, R.QuotaExceeded, R.PayloadFormatInvalid, R.RetainNotSupported, R.QoSNotSupported,
  R.UseAnotherServer, R.ServerMoved, R.ConnectionRateExceeded,
]);

/** PUBACK [MQTT-3.4.2-1] and PUBREC [MQTT-3.5.2-1] share one list. */
export const PUBACK_REASON_CODES: ReadonlySet<number> = new Set([
  R.Success, R.NoMatchingSubscribers, R.UnspecifiedError, R.ImplementationSpecificError, R.NotAuthorized,
  R.TopicNameInvalid, R.PacketIdentifierInUse, R.QuotaExceeded, R.PayloadFormatInvalid,
]);

/** PUBREL [MQTT-3.6.2-1] and PUBCOMP [MQTT-3.7.2-1] share one list. */
export const PUBREL_REASON_CODES: ReadonlySet<number> = new Set([R.Success, R.PacketIdentifierNotFound]);

/** [MQTT-3.9.3-2] */
export const SUBACK_REASON_CODES: ReadonlySet<number> = new Set([
  R.GrantedQoS0, R.GrantedQoS1, R.GrantedQoS2, R.UnspecifiedError, R.ImplementationSpecificError,
  R.NotAuthorized, R.TopicFilterInvalid, R.PacketIdentifierInUse, R.QuotaExceeded,
  R.SharedSubscriptionsNotSupported, R.SubscriptionIdentifiersNotSupported, R.WildcardSubscriptionsNotSupported,
]);

/** MQTT 3.1.1 SUBACK return codes: granted QoS or 0x80 failure [MQTT-3.9.3-2]. */
export const SUBACK_RETURN_CODES_V3: ReadonlySet<number> = new Set([0x00, 0x01, 0x02, 0x80]);

/** [MQTT-3.11.3-2] */
export const UNSUBACK_REASON_CODES: ReadonlySet<number> = new Set([
  R.Success, R.NoSubscriptionExisted, R.UnspecifiedError, R.ImplementationSpecificError, R.NotAuthorized,
  R.TopicFilterInvalid, R.PacketIdentifierInUse,
]);

/** [MQTT-3.14.2-1] */
export const DISCONNECT_REASON_CODES: ReadonlySet<number> = new Set([
  R.NormalDisconnection, R.DisconnectWithWillMessage, R.UnspecifiedError, R.MalformedPacket, R.ProtocolError,
  R.ImplementationSpecificError, R.NotAuthorized, R.ServerBusy, R.ServerShuttingDown, R.KeepAliveTimeout,
  R.SessionTakenOver, R.TopicFilterInvalid, R.TopicNameInvalid, R.ReceiveMaximumExceeded, R.TopicAliasInvalid,
  R.PacketTooLarge, R.MessageRateTooHigh, R.QuotaExceeded, R.AdministrativeAction, R.PayloadFormatInvalid,
  R.RetainNotSupported, R.QoSNotSupported, R.UseAnotherServer, R.ServerMoved, R.SharedSubscriptionsNotSupported,
  R.ConnectionRateExceeded, R.MaximumConnectTime, R.SubscriptionIdentifiersNotSupported,
  R.WildcardSubscriptionsNotSupported,
]);

/** [MQTT-3.15.2-1] */
export const AUTH_REASON_CODES: ReadonlySet<number> = new Set([R.Success, R.ContinueAuthentication, R.ReAuthenticate]);
