// What the broker sees of a cluster backplane (src/cluster/ implements it). Without one configured
// the broker never calls anything here: the single-node hot path stays as it is.

import type { ClientIdentity } from '../auth/port.js';
import type { Will } from '../protocol/packets.js';
import type { Message } from './message.js';
import type { RouteScope } from './router.js';
import type { Session } from './session.js';

export interface ClusterPort {
  /**
   * Routes an accepted message cluster-wide: to the other nodes whose route table matches, and
   * locally through router.publish with the scope this node's shared-group picks allow. Returns the
   * number of local sessions plus remote nodes it went to.
   */
  route(message: Message, now: number): number;
  /** A retained message was stored or cleared on this node: share it with the cluster. */
  retainedChanged(message: Message): void;
  /**
   * A client connected here: the cluster registry moves its id (another node's connection is taken
   * over) and its will is kept in the cluster with its identity, for another node to check against
   * the ACL and send if this one dies.
   */
  clientConnected(client: ClientIdentity, clean: boolean, will: Will | undefined, sessionExpiry: number): void;
  /**
   * With a shared store, before a CONNECT is answered: the node holding the client id commits its
   * session and lets it go (or it is found dead); resolves then, or after a bounded wait.
   */
  handOver?(clientId: string, clean: boolean): Promise<void>;
  /**
   * A session this node adopted from a dead node and is still filling with what that node's inbox
   * held: resolves once that is done (a CONNECT waits for it); undefined for any other session.
   */
  adopting?(clientId: string): Promise<void> | undefined;
  /** After handOver: the session read from the store is in place (undefined for a clean start or none stored). */
  sessionArrived?(clientId: string, session: Session | undefined): void;
  /** A connected client's identity changed (re-authentication named it anew): its stored will is checked as the new one. */
  clientRenamed(client: ClientIdentity): void;
  /** The client's will no longer needs a stand-in (sent, cancelled or discarded). */
  willSettled(clientId: string): void;
  /** The session of a client id ended on this node. */
  sessionEnded(clientId: string): void;
  /**
   * Runs something on one node of the cluster at a time (a bridge every node has configured):
   * `acquired` is called when this node takes the named lease, `lost` if another node gets it.
   * stop() releases it, for another node to take at once.
   */
  lease(name: string, holder: LeaseHolder): { stop(): Promise<void> };
  /** This node's cluster figures as $SYS topic → value ($SYS/broker/cluster/...), per node. */
  sysTopics(): ReadonlyArray<readonly [string, string]>;
  close(): Promise<void>;
}

export interface LeaseHolder {
  /** This node now holds the lease: start the work. */
  acquired(): void;
  /** Another node holds it now: stop the work. */
  lost(): void;
}

export type { RouteScope };
