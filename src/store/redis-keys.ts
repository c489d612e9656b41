// The Redis keys of one persistent session (the Redis store, docs/CLUSTER.md lists them). Every key
// of a session carries the hash tag {s:CLIENT-ID}, so on a Redis Cluster a session sits in one slot
// and its changes go in one MULTI. A client id containing '}' still gives its keys one tag, since the
// tag is cut at the same place in each of them.

export interface SessionKeys {
  /** HASH v (protocol version), exp (expiry interval, s), dis (epoch ms of disconnection, 0 = connected). */
  readonly header: string;
  /** HASH filter → subscription (JSON). */
  readonly subscriptions: string;
  /** HASH seq → outgoing entry (JSON: message id, QoS, retain, subscription ids, packet id, state). */
  readonly outgoing: string;
  /** HASH seq → the entry's message (redis-codec.ts), a copy per session so a session is self-contained. */
  readonly bodies: string;
  /** SET of QoS 2 packet ids received and not yet released. */
  readonly incomingQos2: string;
}

export function sessionKeys(clientId: string): SessionKeys {
  const base = `culex:{s:${clientId}}`;
  return { header: `${base}:session`, subscriptions: `${base}:subs`, outgoing: `${base}:out`, bodies: `${base}:body`, incomingQos2: `${base}:qos2` };
}

export function allSessionKeys(keys: SessionKeys): [string, string, string, string, string] {
  return [keys.header, keys.subscriptions, keys.outgoing, keys.bodies, keys.incomingQos2];
}
