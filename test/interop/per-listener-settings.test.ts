// per_listener_settings true: one configuration with three listeners — anonymous access, a password
// file, dynamic security — run by `culex broker -c` and by Debian's `mosquitto -c`; mosquitto_pub
// must be admitted or refused the same way on each listener.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitForPort } from '../helpers/broker-process.js';
import { findFreePort } from '../helpers/ports.js';
import { runTool } from '../helpers/processes.js';
import { needTools, toolPath } from '../helpers/tools.js';
import { credentials, debianPlugin, mosquittoCtrl, startBroker, stopBroker, type BrokerKind } from '../helpers/dynsec.js';

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await findFreePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

function writeConfig(dir: string, [open, passwords, dynsec]: number[]): string {
  const passwordFile = join(dir, 'passwd');
  execFileSync(toolPath('mosquitto_passwd') ?? 'mosquitto_passwd', ['-c', '-b', passwordFile, 'fileuser', 'file-pw']);
  const dynsecFile = join(dir, 'dynsec.json');
  execFileSync(mosquittoCtrl(), ['dynsec', 'init', dynsecFile, 'admin', 'admin-pw']);
  const lines = [
    'per_listener_settings true',
    `listener ${open} 127.0.0.1`,
    'allow_anonymous true',
    `listener ${passwords} 127.0.0.1`,
    `password_file ${passwordFile}`,
    `listener ${dynsec} 127.0.0.1`,
    `plugin ${debianPlugin}`,
    `plugin_opt_config_file ${dynsecFile}`,
    'log_dest none',
  ];
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function admissions(kind: BrokerKind, parent: string): Promise<Record<string, number | null>> {
  const dir = join(parent, kind);
  mkdirSync(dir);
  const ports = await freePorts(3);
  const [open, passwords, dynsec] = ports as [number, number, number];
  const broker = await startBroker(kind, writeConfig(dir, ports), open);
  try {
    await waitForPort(passwords, broker);
    await waitForPort(dynsec, broker);
    const pub = async (port: number, user?: string, password?: string): Promise<number | null> =>
      (await runTool('mosquitto_pub', [...credentials(port, user, password), '-t', 't', '-m', 'x', '-q', '1'], { timeoutMs: 10_000 })).code;
    return {
      'open: anonymous': await pub(open),
      'open: any username': await pub(open, 'someone', 'whatever'),
      'password file: anonymous': await pub(passwords),
      'password file: its user': await pub(passwords, 'fileuser', 'file-pw'),
      'password file: wrong password': await pub(passwords, 'fileuser', 'nope'),
      'password file: dynsec admin': await pub(passwords, 'admin', 'admin-pw'),
      'dynsec: anonymous': await pub(dynsec),
      'dynsec: admin': await pub(dynsec, 'admin', 'admin-pw'),
      'dynsec: password-file user': await pub(dynsec, 'fileuser', 'file-pw'),
    };
  } finally {
    await stopBroker(broker);
  }
}

test('per_listener_settings true: each listener has its own allow_anonymous, password_file and dynamic-security plugin, as in Mosquitto', async (t) => {
  if (!needTools(t, ['mosquitto', 'mosquitto_ctrl', 'mosquitto_pub', 'mosquitto_passwd'])) return;
  const dir = mkdtempSync(join(tmpdir(), 'culex-per-listener-'));
  try {
    const culex = await admissions('culex', dir);
    const mosquitto = await admissions('mosquitto', dir);
    assert.deepEqual(culex, mosquitto);
    assert.deepEqual(culex, {
      'open: anonymous': 0,
      'open: any username': 0,
      'password file: anonymous': 5,
      'password file: its user': 0,
      'password file: wrong password': 5,
      'password file: dynsec admin': 5,
      'dynsec: anonymous': 5,
      'dynsec: admin': 0,
      'dynsec: password-file user': 5,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
