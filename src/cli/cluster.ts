// `culex cluster status --cluster URL [--json]`: the nodes of a cluster and their clients.

import { parseClusterUrl } from '../cluster/cluster-url.js';
import { readClusterStatus, type ClusterStatus } from '../cluster/status.js';

const usageText = `Usage: culex cluster status --cluster redis://HOST:PORT | redis-cluster://HOST:PORT,... [--json]

Prints every node of the cluster (alive or not, clients, sessions, routes, cross-node counters)
from its last heartbeat, and the cluster-wide client ids and retained messages.
`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usageText);
    return 0;
  }
  const [action, ...rest] = argv;
  let url: string | undefined;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--cluster') url = rest[++i];
    else if (rest[i] === '--json') json = true;
    else {
      process.stderr.write(`Error: Unknown option '${rest[i]}'.\n\n${usageText}`);
      return 3;
    }
  }
  if (action !== 'status' || url === undefined) {
    process.stderr.write(usageText);
    return 3;
  }
  const parsed = parseClusterUrl(url);
  if (typeof parsed === 'string') {
    process.stderr.write(`Error: ${parsed}.\n`);
    return 3;
  }
  let status: ClusterStatus;
  try {
    status = await readClusterStatus(parsed);
  } catch (error) {
    process.stderr.write(`Error: cannot reach Redis at ${url}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${status.nodes.length} node(s), ${status.clientIds} client id(s), ${status.retained} retained message(s)\n`);
  const rows = status.nodes.map((node) => [
    node.id,
    node.alive ? 'alive' : 'dead',
    String(node['clients'] ?? '?'),
    String(node['sessions'] ?? '?'),
    String(node['routes'] ?? '?'),
    String(node['forwardedMessages'] ?? '?'),
    String(node['receivedMessages'] ?? '?'),
    `${String(node['host'] ?? '?')}:${Array.isArray(node['ports']) ? node['ports'].join(',') : '?'}`,
  ]);
  const header = ['node', 'state', 'clients', 'sessions', 'routes', 'sent', 'received', 'address'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}
