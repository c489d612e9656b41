// Dynamic-security fixtures: a broker configuration with the plugin lines (the same file runs
// `culex broker -c` and Debian's `mosquitto -c`), and mosquitto_ctrl / mosquitto_pub / mosquitto_sub
// as a given user.
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { startCulexBroker, waitForPort } from './broker-process.js';
import { runTool, startTool, type ProcessResult, type RunningProcess } from './processes.js';
import { toolPath } from './tools.js';

export const debianPlugin = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

/** A mosquitto.conf with one loopback listener and the dynamic-security plugin on file. */
export function writeDynsecConfig(dir: string, port: number, dynsecFile: string, extra: readonly string[] = []): string {
  const lines = [`listener ${port} 127.0.0.1`, `plugin ${debianPlugin}`, `plugin_opt_config_file ${dynsecFile}`, 'log_dest none', ...extra];
  // Run as root, mosquitto would drop to user "mosquitto" and lose access to the temp files; Culex accepts the line with a notice.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export type BrokerKind = 'culex' | 'mosquitto';

/** Starts either broker on the configuration and waits for its port. */
export async function startBroker(kind: BrokerKind, config: string, port: number): Promise<RunningProcess> {
  const broker = kind === 'culex' ? startCulexBroker(['-c', config], 120_000) : startTool('mosquitto', ['-c', config], { timeoutMs: 120_000 });
  // generous: from the TypeScript sources on a loaded machine a start takes a while
  await waitForPort(port, broker, 90_000);
  return broker;
}

export async function stopBroker(broker: RunningProcess): Promise<void> {
  broker.kill('SIGTERM');
  const timer = setTimeout(() => broker.kill('SIGKILL'), 3000);
  await broker.result();
  clearTimeout(timer);
}

/** mosquitto_ctrl's warning about unencrypted connections, which says nothing about the answer. */
export function ctrlOutput(result: ProcessResult): string {
  const stderr = result.stderr.replace(/Warning: You are running mosquitto_ctrl without encryption\.\nThis means all of the configuration changes you are making are visible on the network, including passwords\.\n\n?/g, '');
  return `${result.stdout}${stderr}`.trim();
}

export function ctrl(port: number, admin: readonly [string, string], args: readonly string[]): Promise<ProcessResult> {
  return runTool('mosquitto_ctrl', ['-h', '127.0.0.1', '-p', String(port), '-u', admin[0], '-P', admin[1], 'dynsec', ...args], { timeoutMs: 10_000 });
}

export function credentials(port: number, user?: string, password?: string): string[] {
  const base = ['-h', '127.0.0.1', '-p', String(port)];
  if (user !== undefined) base.push('-u', user);
  if (password !== undefined) base.push('-P', password);
  return base;
}

export const mosquittoCtrl = (): string => toolPath('mosquitto_ctrl') ?? 'mosquitto_ctrl';
