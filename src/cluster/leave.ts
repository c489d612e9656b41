// A node's graceful leave (SIGTERM, culex.close()). Its routes, status and client ids go at once
// rather than after the heartbeat timeout. Persistent sessions it holds (sessions in Redis) are not
// dropped with it: the node commits them, then announces that it left, and the node that wins its
// reaper lock adopts them at once, as it would a dead node's (liveness.ts, session-moves.ts). Until
// then its routes stay in the table, so QoS 1/2 messages for those sessions keep going to its inbox,
// which the adopting node replays: nothing published after the stop is lost to an offline client.

import { RELEASE_CLIENT, clusterKeys as keys } from './keys.js';
import type { ClusterNode } from './node.js';

/** What a node that left with sessions to hand over publishes on the route-change channel. */
export interface LeftNotice {
  readonly node: string;
  readonly left: true;
}

export async function leaveCluster(node: ClusterNode): Promise<void> {
  const { broker, link, id } = node;
  if (!link.isUp) return; // the others take it for dead after three heartbeats and adopt from Redis
  const commands = link.commands;
  const persistence = broker.persistence;
  // the broker has disconnected every client by now: what remains are persistent sessions
  const handOver = persistence?.shared === true && broker.sessions.size > 0;
  // wills of dead nodes' clients this node was holding (will delay not over) are not its clients':
  // another node takes them over as from a dead node
  if (!handOver && node.liveness.heldWillCount === 0) {
    const release = [...broker.sessions.keys()].map((clientId) => commands.eval(RELEASE_CLIENT, 2, keys.clients, keys.clientRuns, clientId, id) as Promise<unknown>);
    await Promise.allSettled([
      ...release,
      commands.del(keys.routes(id), keys.alive(id), keys.wills(id), keys.sessions(id)),
      commands.hdel(keys.nodes, id),
      commands.publish(keys.routeChanges, JSON.stringify({ node: id, gone: true })),
    ]);
    return;
  }
  // the sessions' last changes (disconnection times, messages received before the stop) are in Redis
  // before anyone reads them; a failed commit leaves them to the key TTLs and the reaper's reading
  await persistence?.sync()?.catch(() => undefined);
  // no wills on a graceful stop (as Mosquitto); routes, session set, held wills and status stay for the reaper
  await Promise.allSettled([commands.del(keys.alive(id), keys.wills(id))]);
  const notice: LeftNotice = { node: id, left: true };
  await commands.publish(keys.routeChanges, JSON.stringify(notice)).catch(() => undefined);
  node.logger.log('notice', `Cluster: node ${id} left; its ${broker.sessions.size} persistent sessions and ${node.liveness.heldWillCount} wills of dead nodes' clients go to another node.`);
}
