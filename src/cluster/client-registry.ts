// This node's part of the cluster's client registry: which client ids it holds (culex:clients, a
// compare-and-set so another node's connection with the same id is taken over [MQTT-3.1.4-3], with
// this run of the node beside it in {culex:clients}:runs), the set of its sessions, and the wills of
// its connected clients with who sent them, kept in Redis for the node that cleans up should this
// one die (liveness.ts).

import type { ClientIdentity } from '../auth/port.js';
import { NEVER_EXPIRES } from '../broker/session.js';
import type { Will } from '../protocol/packets.js';
import { encodeTakeoverFrame, encodeWill, withWillOwner, type WillOwner } from './frame.js';
import { CLAIM_CLIENT, CLAIM_FREE_CLIENT, RELEASE_CLIENT, clusterKeys as keys } from './keys.js';
import type { RedisLink } from './redis-link.js';

const failed = (): void => undefined;

const ownerOf = (client: ClientIdentity): WillOwner => ({ username: client.username, listener: client.listener, remoteAddress: client.remoteAddress });

export class ClientRegistry {
  /** Each connected client's will as stored (delay + message), to write again after an outage. */
  private readonly wills = new Map<string, Buffer>();

  constructor(
    private readonly link: RedisLink,
    private readonly id: string,
    /** This run of the node (node.ts): recorded with each client id it claims. */
    private readonly run: string,
    /** Sends a frame on another node's data channel. */
    private readonly send: (channel: string, data: Buffer) => void,
  ) {}

  connected(client: ClientIdentity, clean: boolean, will: Will | undefined, sessionExpiry: number): void {
    const clientId = client.clientId;
    if (will !== undefined) {
      const willDelay = will.properties?.willDelayInterval ?? 0;
      const delay = sessionExpiry === NEVER_EXPIRES ? willDelay : Math.min(willDelay, sessionExpiry);
      this.wills.set(clientId, encodeWill(clientId, will, delay, ownerOf(client)));
    } else {
      this.wills.delete(clientId);
    }
    if (!this.link.isUp) return; // re-registered by the resync
    const commands = this.link.commands;
    (commands.eval(CLAIM_CLIENT, 2, keys.clients, keys.clientRuns, clientId, this.id, this.run) as Promise<unknown>).then((previous) => {
      // [MQTT-3.1.4-3] the id is connected on another node: that connection is closed there (0x8E)
      if (typeof previous === 'string' && previous !== this.id) this.send(keys.data(previous), encodeTakeoverFrame(clientId, clean));
    }, failed);
    commands.sadd(keys.sessions(this.id), clientId).catch(failed);
    const stored = this.wills.get(clientId);
    if (stored !== undefined) commands.hset(keys.wills(this.id), clientId, stored).catch(failed);
    else commands.hdel(keys.wills(this.id), clientId).catch(failed);
  }

  /** A client re-authenticated under another username: its will is checked as that user's. */
  renamed(client: ClientIdentity): void {
    const stored = this.wills.get(client.clientId);
    if (stored === undefined) return;
    const renamed = withWillOwner(stored, ownerOf(client));
    this.wills.set(client.clientId, renamed);
    if (this.link.isUp) this.link.commands.hset(keys.wills(this.id), client.clientId, renamed).catch(failed);
  }

  willSettled(clientId: string): void {
    if (!this.wills.delete(clientId) || !this.link.isUp) return;
    this.link.commands.hdel(keys.wills(this.id), clientId).catch(failed);
  }

  ended(clientId: string): void {
    if (this.wills.delete(clientId) && this.link.isUp) this.link.commands.hdel(keys.wills(this.id), clientId).catch(failed);
    if (!this.link.isUp) return;
    const commands = this.link.commands;
    commands.srem(keys.sessions(this.id), clientId).catch(failed);
    (commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, this.id) as Promise<unknown>).catch(failed);
  }

  /**
   * At join and after an outage: the session set and wills written again; each client id claimed
   * unless another node took it meanwhile.
   */
  async rewrite(clientIds: Iterable<string>): Promise<void> {
    const commands = this.link.commands;
    await commands.del(keys.sessions(this.id), keys.wills(this.id));
    for (const clientId of clientIds) {
      await commands.eval(CLAIM_FREE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, this.id, this.run);
      await commands.sadd(keys.sessions(this.id), clientId);
    }
    for (const [clientId, will] of this.wills) await commands.hset(keys.wills(this.id), clientId, will);
  }
}
