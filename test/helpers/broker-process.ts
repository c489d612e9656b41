// `culex broker -c FILE` as a child process from source, awaited until its listeners accept connections.
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { RunningProcess, type ProcessResult } from './processes.js';

const entry = fileURLToPath(new URL('./broker-entry.ts', import.meta.url));

export function startCulexBroker(args: readonly string[], timeoutMs = 60_000): RunningProcess {
  return new RunningProcess(process.execPath, ['--import', 'tsx', entry, ...args], { timeoutMs });
}

export function runCulexBroker(args: readonly string[]): Promise<ProcessResult> {
  return startCulexBroker(args, 20_000).result();
}

/** Resolves once 127.0.0.1:port accepts a TCP connection. */
export function waitForPort(port: number, process: RunningProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (process.child.exitCode !== null) return reject(new Error(`culex broker exited: ${process.stderr}`));
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`culex broker did not listen on ${port}: ${process.stderr}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}
