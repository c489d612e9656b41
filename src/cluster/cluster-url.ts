// The --cluster / `cluster` value: one Redis server (redis://[user:pass@]host:port[/db]) or a Redis
// Cluster given by seed nodes (redis-cluster://host:port,host:port,...). rediss:// and
// rediss-cluster:// use TLS.

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface ClusterUrl {
  readonly kind: 'server' | 'cluster';
  readonly endpoints: readonly RedisEndpoint[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  readonly tls: boolean;
}

/** Parses a cluster URL; a string is the reason it is not one. */
export function parseClusterUrl(text: string): ClusterUrl | string {
  const match = /^(rediss?|rediss?-cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)(?:\/(\d+))?\/?$/.exec(text.trim());
  if (match === null) return `invalid cluster URL '${text}': expected redis://HOST:PORT or redis-cluster://HOST:PORT,HOST:PORT`;
  const [, scheme, user, password, hosts, db] = match as unknown as [string, string, string | undefined, string | undefined, string, string | undefined];
  const kind = scheme.endsWith('-cluster') ? 'cluster' : 'server';
  const endpoints: RedisEndpoint[] = [];
  for (const part of hosts.split(',')) {
    const endpoint = parseEndpoint(part);
    if (typeof endpoint === 'string') return `invalid cluster URL '${text}': ${endpoint}`;
    endpoints.push(endpoint);
  }
  if (kind === 'server' && endpoints.length > 1) return `invalid cluster URL '${text}': several hosts need redis-cluster://`;
  if (kind === 'cluster' && db !== undefined && db !== '0') return `invalid cluster URL '${text}': Redis Cluster has only database 0`;
  return {
    kind,
    endpoints,
    username: user === undefined || user === '' ? undefined : decodeURIComponent(user),
    password: password === undefined ? undefined : decodeURIComponent(password),
    db: db === undefined ? 0 : Number(db),
    tls: scheme.startsWith('rediss'),
  };
}

function parseEndpoint(text: string): RedisEndpoint | string {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  const found = bracketed ?? plain;
  if (found === null || found[1] === undefined || found[1] === '') return `bad host '${text}'`;
  const port = found[2] === undefined ? 6379 : Number(found[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `bad port in '${text}'`;
  return { host: found[1], port };
}
