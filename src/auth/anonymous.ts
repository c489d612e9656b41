// `allow_anonymous false` with no password file: clients that give no username are refused with
// "not authorised" (v5 CONNACK 0x87, v3 return code 5); clients with a username are let in, as
// Mosquitto 2.0 does when it has no password file to check the username against.

import { ReasonCode } from '../protocol/reason-codes.js';
import type { AuthenticateRequest, AuthenticateResult, Authenticator } from './port.js';

const accepted: AuthenticateResult = { reasonCode: ReasonCode.Success };
const refused: AuthenticateResult = { reasonCode: ReasonCode.NotAuthorized };

export const refuseAnonymous: Authenticator = {
  authenticate: (request: AuthenticateRequest) => (request.username === undefined ? refused : accepted),
};
