// What a node reports about itself: its $SYS/broker/cluster/... topics and the status entry it
// writes to culex:nodes on each heartbeat (read by `culex cluster status`).

import type { ClusterNode } from './node.js';

export function clusterSysTopics(node: ClusterNode, nodeCount: number): ReadonlyArray<readonly [string, string]> {
  const stats = node.stats;
  return [
    ['$SYS/broker/cluster/node', node.id],
    ['$SYS/broker/cluster/nodes', String(nodeCount)],
    ['$SYS/broker/cluster/redis/connected', node.link.isUp ? '1' : '0'],
    ['$SYS/broker/cluster/redis/outages', String(stats.outages)],
    ['$SYS/broker/cluster/routes', String(node.table.index.size)],
    ['$SYS/broker/cluster/messages/forwarded', String(stats.forwardedMessages)],
    ['$SYS/broker/cluster/messages/batches', String(stats.forwardedBatches)],
    ['$SYS/broker/cluster/messages/received', String(stats.receivedMessages)],
    ['$SYS/broker/cluster/messages/dropped', String(stats.droppedWhileDown)],
  ];
}

export function nodeStatus(node: ClusterNode): Record<string, unknown> {
  const broker = node.broker;
  return {
    id: node.id,
    pid: process.pid,
    clients: broker.channels.size,
    sessions: broker.sessions.size,
    subscriptions: broker.router.subscriptionCount,
    routes: node.table.entriesOf(node.id).size,
    routeSeq: node.routeSeq,
    ...node.stats,
    retainedSwept: node.sweep.swept,
    updatedAt: Date.now(),
    ...node.options.describe?.(),
  };
}
