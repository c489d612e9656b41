// SIGHUP (AssembledBroker.reload): the password file is read again and connected clients whose
// credentials no longer pass are disconnected, as Mosquitto does after a reload; the others stay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../src/config/assemble.js';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { hashPassword } from '../../src/auth/password-file.js';
import { silentLogger } from '../../src/broker/logger.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { findFreePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';

async function passwordLines(users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) lines.push(`${user}:${await hashPassword(password)}`);
  return `${lines.join('\n')}\n`;
}

test('after a reload, clients the password file no longer admits are disconnected (v5: DISCONNECT 0x98); the others stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-reload-'));
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, await passwordLines({ removed: 'a', changed: 'b', kept: 'c', oldv3: 'd' }));
  const port = await findFreePort();
  const file = join(dir, 'mosquitto.conf');
  writeFileSync(file, `listener ${port} 127.0.0.1\npassword_file ${passwd}\n`);
  const config = readMosquittoConf(file);
  if (config instanceof ConfigError) assert.fail(config.toString());
  const running = await assemble(config, { logger: silentLogger });
  try {
    const login = (username: string, password: string, protocolVersion: 4 | 5 = 5) =>
      RawClient.connected(port, { protocolVersion, username, password: Buffer.from(password) });
    const removed = await login('removed', 'a');
    const changed = await login('changed', 'b');
    const kept = await login('kept', 'c');
    const oldv3 = await login('oldv3', 'd', 4);

    writeFileSync(passwd, await passwordLines({ changed: 'new', kept: 'c' }));
    await running.reload();

    for (const client of [removed, changed]) {
      const packets = await client.closedByBroker(5000);
      const disconnect = packets.find((packet) => packet.type === 'disconnect');
      assert.equal(disconnect?.type === 'disconnect' ? disconnect.reasonCode : undefined, ReasonCode.AdministrativeAction);
    }
    await oldv3.closedByBroker(5000); // 3.1.1 has no DISCONNECT from the server: the connection just closes

    kept.send({ type: 'pingreq' });
    await kept.expect('pingresp');
    assert.equal(kept.closed, false);
    kept.destroy();

    // and the new password is the one that works now
    const again = await login('changed', 'new');
    again.destroy();
  } finally {
    await running.close();
  }
});
