// One set of security settings (global, or one listener's with per_listener_settings true) as the
// broker's ports, in Mosquitto 2.0's order (security.c): a password file, when there is one,
// decides every client that gives a username; otherwise the dynamic-security plugin answers, and
// when it has no answer the client is refused unless it is anonymous and allow_anonymous is true.
// An ACL file, when there is one, decides every check; otherwise the plugin does, and its
// "no answer" is a denial.

import { ReasonCode } from '../protocol/reason-codes.js';
import type { QoS } from '../protocol/packets.js';
import type { DynamicSecurity } from './dynsec/dynamic-security.js';
import type { Access } from './dynsec/access.js';
import { refuseAnonymous } from './anonymous.js';
import { allowAll, type AuthenticateRequest, type AuthenticateResult, type Authenticator, type Authorizer, type ClientIdentity } from './port.js';

export type Security = Authenticator & Authorizer;

export interface SecuritySettings {
  readonly allowAnonymous: boolean;
  readonly passwordFile?: Authenticator | undefined;
  readonly aclFile?: Authorizer | undefined;
  readonly dynsec?: DynamicSecurity | undefined;
}

const accepted: AuthenticateResult = { reasonCode: ReasonCode.Success };
const refused: AuthenticateResult = { reasonCode: ReasonCode.NotAuthorized };

class DynsecAuthenticator implements Authenticator {
  constructor(
    private readonly dynsec: DynamicSecurity,
    private readonly allowAnonymous: boolean,
  ) {}

  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const answer = this.dynsec.authenticate(request);
    return answer instanceof Promise ? answer.then((access) => this.result(request, access)) : this.result(request, answer);
  }

  private result(request: AuthenticateRequest, access: Access): AuthenticateResult {
    if (access === 'allow') return accepted;
    if (access === 'defer' && request.username === undefined && this.allowAnonymous) return accepted;
    return refused;
  }
}

class DynsecAuthorizer implements Authorizer {
  constructor(private readonly dynsec: DynamicSecurity) {}
  canPublish(client: ClientIdentity, topic: string): boolean {
    return this.dynsec.canPublish(client, topic) === 'allow';
  }
  canSubscribe(client: ClientIdentity, filter: string, qos: QoS): number {
    return this.dynsec.canSubscribe(client, filter) === 'allow' ? qos : ReasonCode.NotAuthorized;
  }
  canUnsubscribe(client: ClientIdentity, filter: string): boolean {
    return this.dynsec.canUnsubscribe(client, filter) === 'allow';
  }
  canReceive(client: ClientIdentity, topic: string): boolean {
    return this.dynsec.canReceive(client, topic) === 'allow';
  }
}

export function composeSecurity(settings: SecuritySettings): { authenticator: Authenticator; authorizer: Authorizer } {
  const { dynsec } = settings;
  const authenticator = settings.passwordFile ?? (dynsec !== undefined ? new DynsecAuthenticator(dynsec, settings.allowAnonymous) : settings.allowAnonymous ? allowAll : refuseAnonymous);
  const authorizer = settings.aclFile ?? (dynsec !== undefined ? new DynsecAuthorizer(dynsec) : allowAll);
  return { authenticator, authorizer };
}

/** per_listener_settings true: each listener's own settings, chosen by the listener a client came in on. */
export class PerListenerSecurity implements Authenticator, Authorizer {
  constructor(
    private readonly byListener: ReadonlyMap<string, { readonly authenticator: Authenticator; readonly authorizer: Authorizer }>,
    private readonly fallback: { readonly authenticator: Authenticator; readonly authorizer: Authorizer },
  ) {}

  private scope(client: ClientIdentity): { readonly authenticator: Authenticator; readonly authorizer: Authorizer } {
    return this.byListener.get(client.listener) ?? this.fallback;
  }

  authenticate(request: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    return this.scope(request).authenticator.authenticate(request);
  }
  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): boolean | Promise<boolean> {
    return this.scope(client).authorizer.canPublish(client, topic, qos, retain);
  }
  canSubscribe(client: ClientIdentity, filter: string, qos: QoS): number | Promise<number> {
    return this.scope(client).authorizer.canSubscribe(client, filter, qos);
  }
  canUnsubscribe(client: ClientIdentity, filter: string): boolean {
    const authorizer = this.scope(client).authorizer;
    return authorizer.canUnsubscribe === undefined ? true : authorizer.canUnsubscribe(client, filter);
  }
  canReceive(client: ClientIdentity, topic: string): boolean {
    return this.scope(client).authorizer.canReceive(client, topic);
  }
}
