// Culex's own implementation of Mosquitto's dynamic-security plugin: the JSON file, the
// authentication and ACL checks, and the `$CONTROL/dynamic-security/v1` handler that changes them
// at run time. No C plugin is loaded; the file and the API are Mosquitto 2.0's.

import type { Logger } from '../../broker/logger.js';
import type { ControlBroker, ControlHandler, ControlRequest } from '../../broker/control.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AuthenticateRequest, ClientIdentity } from '../port.js';
import { publishAccess, subscriptionAccess, type Access } from './access.js';
import type { CommandContext } from './commands/context.js';
import { CONTROL_TOPIC, RESPONSE_TOPIC, runControlMessage } from './control.js';
import { loadDynsecFile, saveDynsecFile } from './file.js';
import type { DynsecState } from './model.js';
import { verifyPassword } from './password.js';

export class DynamicSecurity implements ControlHandler {
  readonly topic = CONTROL_TOPIC;

  private constructor(
    readonly file: string,
    readonly state: DynsecState,
    private readonly logger: Logger | undefined,
  ) {}

  /** Around a state built in code (tests, tools); changes are saved to file. */
  static forState(state: DynsecState, file: string, logger?: Logger): DynamicSecurity {
    return new DynamicSecurity(file, state, logger);
  }

  /** Reads the file; throws DynsecFileError when it cannot be used. */
  static load(file: string, logger?: Logger): DynamicSecurity {
    return new DynamicSecurity(file, loadDynsecFile(file), logger);
  }

  /** The plugin's password check: 'defer' when it has nothing to say (no credentials, unknown user, no password). */
  authenticate(request: AuthenticateRequest): Access | Promise<Access> {
    if (request.username === undefined || request.password === undefined) return 'defer';
    const client = this.state.clients.get(request.username);
    if (client === undefined) return 'defer';
    if (client.disabled) return 'deny';
    if (client.clientid !== undefined && client.clientid !== request.clientId) return 'deny';
    if (client.password === undefined) return 'defer';
    return verifyPassword(request.password, client.password).then((ok) => (ok ? 'allow' : 'deny'));
  }

  canPublish(client: ClientIdentity, topic: string): Access {
    return publishAccess(this.state, 'publishClientSend', client.username, topic);
  }

  canReceive(client: ClientIdentity, topic: string): Access {
    return publishAccess(this.state, 'publishClientReceive', client.username, topic);
  }

  canSubscribe(client: ClientIdentity, filter: string): Access {
    return subscriptionAccess(this.state, 'subscribe', client.username, filter);
  }

  canUnsubscribe(client: ClientIdentity, filter: string): Access {
    return subscriptionAccess(this.state, 'unsubscribe', client.username, filter);
  }

  /** A control message from a client the ACLs let publish here: run it, publish the responses. */
  handle(request: ControlRequest): void {
    const context = this.commandContext(request.client, request.broker);
    const document = runControlMessage(context, request.payload);
    const correlationData = request.properties?.correlationData;
    // Mosquitto publishes the answer to every subscriber of the response topic; a v5 caller's
    // Correlation Data is carried over so MQTT 5 request/response clients can match it too.
    request.broker.publish(RESPONSE_TOPIC, JSON.stringify(document), correlationData === undefined ? {} : { properties: { correlationData } });
  }

  private commandContext(admin: ClientIdentity, broker: ControlBroker): CommandContext {
    const adminName = `${admin.clientId}/${admin.username ?? '(null)'}`;
    const kick = (match: (client: ClientIdentity) => boolean): void => {
      broker.disconnectClients(match, ReasonCode.AdministrativeAction);
    };
    return {
      state: this.state,
      admin: adminName,
      save: () => {
        try {
          saveDynsecFile(this.file, this.state);
        } catch (error) {
          this.logger?.log('error', `Error saving Dynamic security plugin config: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
      kick: (username) => kick((client) => client.username === username),
      kickAnonymous: () => kick((client) => client.username === undefined),
      log: (message) => this.logger?.log('information', `dynsec: ${adminName} | ${message}`),
    };
  }
}
