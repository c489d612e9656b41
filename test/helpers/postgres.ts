// A throwaway PostgreSQL server for a test (Debian's postgresql package): a fresh cluster in a temp
// directory, on a free loopback port, stopped by its own PID and deleted afterwards. As root, the
// server runs as the `postgres` user (it refuses to run as root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { findFreePort } from './ports.js';

const debianRoot = '/usr/lib/postgresql';

/** The newest installed server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(debianRoot)) return undefined;
  const versions = readdirSync(debianRoot)
    .filter((name) => existsSync(join(debianRoot, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(debianRoot, versions[0]!, 'bin');
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (line === undefined) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface PostgresServer {
  /** postgres://culex@127.0.0.1:PORT/postgres (trust authentication, loopback only). */
  readonly url: string;
  /** A new, empty database on the same server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a server, or skips the test (fails it when CI=true) if PostgreSQL is not installed. */
export async function startPostgres(t: TestContext): Promise<PostgresServer | undefined> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const account = asRoot ? postgresUser() : undefined;
  if (bin === undefined || (asRoot && account === undefined)) {
    const reason = 'PostgreSQL server not installed: apt-get install postgresql';
    if (process.env.CI === 'true') throw new Error(`${reason} (required on CI)`);
    t.skip(reason);
    return undefined;
  }
  const identity = account === undefined ? {} : { uid: account.uid, gid: account.gid };
  const dir = mkdtempSync(join(tmpdir(), 'culex-pg-'));
  if (account !== undefined) chownSync(dir, account.uid, account.gid);
  const data = join(dir, 'data');
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'culex', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...identity, encoding: 'utf8', timeout: 120_000 });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const port = await findFreePort();
  // fsync off: a test server's durability is not under test, and the machine is shared.
  const server: ChildProcess = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], {
    ...identity,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `postgres://culex@127.0.0.1:${port}/postgres`;
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null && server.pid !== undefined) {
      process.kill(server.pid, 'SIGINT'); // fast shutdown
      const killer = setTimeout(() => server.pid !== undefined && server.exitCode === null && process.kill(server.pid, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline || server.exitCode !== null) {
        await stop();
        throw new Error(`PostgreSQL did not start: ${error instanceof Error ? error.message : String(error)}\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://culex@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
