// Culex's own implementation of Mosquitto's dynamic-security plugin: the JSON file, the
// authentication and ACL checks, and the `$CONTROL/dynamic-security/v1` handler that changes them
// at run time. No C plugin is loaded; the file and the API are Mosquitto 2.0's. On a cluster node,
// onChange and replace() let src/cluster/dynsec-share.ts carry changes to the other nodes.

import { basename } from 'node:path';
import type { Logger } from '../../broker/logger.js';
import type { ControlBroker, ControlHandler, ControlRequest } from '../../broker/control.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AuthenticateRequest, ClientIdentity } from '../port.js';
import { publishAccess, subscriptionAccess, type Access } from './access.js';
import { concernedBy, type Concerned } from './concerned.js';
import type { CommandContext } from './commands/context.js';
import { CONTROL_TOPIC, RESPONSE_TOPIC, runControlMessage } from './control.js';
import { dynsecJson, loadDynsecFile, parseDynsecJson, saveDynsecFile } from './file.js';
import type { DynsecState } from './model.js';
import { verifyPassword } from './password.js';

/** A change made through the control topic: the whole configuration after it, and whom it disconnected. */
export interface DynsecChange {
  /** The configuration as JSON (the file's content, on one line). */
  readonly config: string;
  /** Usernames whose connected clients the change disconnected. */
  readonly kick: readonly string[];
  /** Whether it disconnected the clients without a username. */
  readonly kickAnonymous: boolean;
}

export class DynamicSecurity implements ControlHandler {
  readonly topic = CONTROL_TOPIC;
  /** Told of each change made through the control topic here (a cluster node shares it). */
  onChange: ((change: DynsecChange) => void) | undefined;

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

  /** The name cluster nodes share this configuration under: the file's name without its directory. */
  get name(): string {
    return basename(this.file);
  }

  /** The configuration as JSON on one line. */
  config(): string {
    return JSON.stringify(dynsecJson(this.state));
  }

  /**
   * Takes a whole configuration made elsewhere (another cluster node) and saves it to the file;
   * throws DynsecFileError when it is not usable. Returns whom the change concerns (concerned.ts);
   * disconnecting them is the caller's part.
   */
  replace(config: string): Concerned {
    const next = parseDynsecJson(config);
    const concerned = concernedBy(this.state, next);
    const state = this.state; // the same object stays in place: the checks and commands hold it
    refill(state.clients, next.clients);
    refill(state.groups, next.groups);
    refill(state.roles, next.roles);
    state.anonymousGroup = next.anonymousGroup;
    state.defaultAccess = next.defaultAccess;
    this.saveFile();
    return concerned;
  }

  /** Whom a change from the given configuration to the one in place concerns; throws DynsecFileError when it is not usable. */
  concernedSince(config: string): Concerned {
    return concernedBy(parseDynsecJson(config), this.state);
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
    const effects: Effects = { saved: false, kick: new Set(), kickAnonymous: false };
    const context = this.commandContext(request.client, request.broker, effects);
    const document = runControlMessage(context, request.payload);
    if (this.onChange !== undefined && (effects.saved || effects.kick.size > 0 || effects.kickAnonymous)) {
      this.onChange({ config: this.config(), kick: [...effects.kick], kickAnonymous: effects.kickAnonymous });
    }
    const correlationData = request.properties?.correlationData;
    // Mosquitto publishes the answer to every subscriber of the response topic; a v5 caller's
    // Correlation Data is carried over so MQTT 5 request/response clients can match it too.
    request.broker.publish(RESPONSE_TOPIC, JSON.stringify(document), correlationData === undefined ? {} : { properties: { correlationData } });
  }

  private saveFile(): void {
    try {
      saveDynsecFile(this.file, this.state);
    } catch (error) {
      this.logger?.log('error', `Error saving Dynamic security plugin config: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private commandContext(admin: ClientIdentity, broker: ControlBroker, effects: Effects): CommandContext {
    const adminName = `${admin.clientId}/${admin.username ?? '(null)'}`;
    const kick = (match: (client: ClientIdentity) => boolean): void => {
      broker.disconnectClients(match, ReasonCode.AdministrativeAction);
    };
    return {
      state: this.state,
      admin: adminName,
      save: () => {
        effects.saved = true;
        this.saveFile();
      },
      kick: (username) => {
        effects.kick.add(username);
        kick((client) => client.username === username);
      },
      kickAnonymous: () => {
        effects.kickAnonymous = true;
        kick((client) => client.username === undefined);
      },
      log: (message) => this.logger?.log('information', `dynsec: ${adminName} | ${message}`),
    };
  }
}

/** What the commands of one control message did, for onChange. */
interface Effects {
  saved: boolean;
  readonly kick: Set<string>;
  kickAnonymous: boolean;
}

function refill<K, V>(target: Map<K, V>, source: ReadonlyMap<K, V>): void {
  target.clear();
  for (const [key, value] of source) target.set(key, value);
}
