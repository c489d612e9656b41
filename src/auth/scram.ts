// SCRAM-SHA-256 (RFC 5802, RFC 7677) as an MQTT 5.0 enhanced authentication method: client-first
// in CONNECT, server-first in AUTH 0x18, client-final in AUTH 0x18, server-final in the CONNACK (or
// in AUTH 0x00 on re-authentication). No channel binding. Users come from a map of passwords or of
// salted credentials, so a deployment need not keep passwords.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { AuthStep, EnhancedAuthRequest, EnhancedAuthenticator } from './port.js';

/** What the server keeps per user (RFC 5802 §3): never the password. */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** Derives the stored credentials from a password (RFC 5802 §3; 4096 iterations as RFC 7677 suggests). */
export function scramCredentials(password: string, salt: Buffer = randomBytes(16), iterations = 4096): ScramCredentials {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  return { salt, iterations, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

interface ServerFirstState {
  readonly username: string;
  readonly credentials: ScramCredentials | undefined;
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  readonly nonce: string;
  readonly gs2Header: string;
}

const refused: AuthStep = { done: true, reasonCode: ReasonCode.NotAuthorized };

/** "a=b,c=d" → Map; SCRAM attributes are single letters. */
function attributes(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) result.set(part[0]!, part.slice(2));
  }
  return result;
}

/** RFC 5802 §5.1 saslname: "=2C" is ",", "=3D" is "="; any other "=" is invalid. */
function decodeSaslName(name: string): string | undefined {
  if (/=(?!2C|3D)/.test(name)) return undefined;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export class ScramSha256 implements EnhancedAuthenticator {
  readonly method = 'SCRAM-SHA-256';
  private readonly users: ReadonlyMap<string, string | ScramCredentials>;
  private readonly derived = new Map<string, ScramCredentials>();
  /** Unknown users get a stable fake salt, so the exchange does not tell them apart from real ones (RFC 5802 §9). */
  private readonly decoySecret = randomBytes(32);

  constructor(users: ReadonlyMap<string, string | ScramCredentials>, private readonly iterations = 4096) {
    this.users = users;
  }

  /** client-first-message "n,,n=user,r=nonce" → server-first-message "r=nonce+ours,s=salt,i=n". */
  start(request: EnhancedAuthRequest): AuthStep {
    const message = request.authenticationData?.toString('utf8');
    if (message === undefined) return refused;
    // gs2-header: "n" or "y" (no channel binding), an optional "a=authzid", then the bare message
    const match = /^([ny]),(a=[^,]*)?,(.*)$/.exec(message);
    if (match === null) return refused;
    const clientFirstBare = match[3]!;
    const fields = attributes(clientFirstBare);
    const username = decodeSaslName(fields.get('n') ?? '');
    const clientNonce = fields.get('r');
    if (username === undefined || username === '' || clientNonce === undefined || clientNonce === '' || clientFirstBare.startsWith('m=')) return refused;
    const credentials = this.credentials(username);
    const salt = credentials?.salt ?? hmac(this.decoySecret, username).subarray(0, 16);
    const nonce = clientNonce + randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${credentials?.iterations ?? this.iterations}`;
    const state: ServerFirstState = { username, credentials, clientFirstBare, serverFirst, nonce, gs2Header: `${match[1]},${match[2] ?? ''},` };
    return { done: false, authenticationData: Buffer.from(serverFirst), state };
  }

  /** client-final-message "c=biws,r=nonce,p=proof" → server-final-message "v=signature", or refused. */
  continue(state: unknown, authenticationData: Buffer | undefined): AuthStep {
    const s = state as ServerFirstState;
    const message = authenticationData?.toString('utf8');
    if (message === undefined) return refused;
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) return refused;
    const withoutProof = message.slice(0, proofAt);
    const fields = attributes(withoutProof);
    if (fields.get('c') !== Buffer.from(s.gs2Header).toString('base64') || fields.get('r') !== s.nonce) return refused;
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const credentials = s.credentials;
    if (credentials === undefined || proof.length !== 32) return refused;
    const authMessage = `${s.clientFirstBare},${s.serverFirst},${withoutProof}`;
    const clientSignature = hmac(credentials.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), credentials.storedKey)) return refused;
    const serverSignature = hmac(credentials.serverKey, authMessage);
    return { done: true, reasonCode: ReasonCode.Success, username: s.username, authenticationData: Buffer.from(`v=${serverSignature.toString('base64')}`) };
  }

  private credentials(username: string): ScramCredentials | undefined {
    const entry = this.users.get(username);
    if (entry === undefined || typeof entry !== 'string') return entry;
    let derived = this.derived.get(username);
    if (derived === undefined) {
      // derived once per user from its password; the salt is fixed from then on
      derived = scramCredentials(entry, randomBytes(16), this.iterations);
      this.derived.set(username, derived);
    }
    return derived;
  }
}
