// mosquitto.conf lines for dynamic security and per_listener_settings: which plugin lines are
// accepted, where plugin_opt_config_file and the security options attach, and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import type { CulexConfig } from '../../src/config/config.js';

function readText(text: string): CulexConfig | ConfigError {
  const dir = mkdtempSync(join(tmpdir(), 'culex-conf-'));
  try {
    const file = join(dir, 'mosquitto.conf');
    writeFileSync(file, text);
    return readMosquittoConf(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function read(text: string): CulexConfig {
  const result = readText(text);
  if (result instanceof ConfigError) assert.fail(result.toString());
  return result;
}

function errorLines(text: string): string[] {
  const result = readText(text);
  assert.ok(result instanceof ConfigError, 'expected a configuration error');
  return result.lines();
}

test('plugin with a path ending in mosquitto_dynamic_security.so, or "dynamic-security", turns on dynamic security', () => {
  for (const plugin of ['/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so', '/opt/mosquitto/lib/mosquitto_dynamic_security.so', 'dynamic-security']) {
    const config = read(`listener 1883\nplugin ${plugin}\nplugin_opt_config_file /etc/culex/dynsec.json\n`);
    assert.equal(config.dynsecFile, '/etc/culex/dynsec.json', plugin);
  }
});

test('any other plugin is refused by name with file:line', () => {
  const lines = errorLines('listener 1883\nplugin /usr/lib/mosquitto_auth_http.so\n');
  assert.match(lines[0]!, /^Error: plugin \/usr\/lib\/mosquitto_auth_http\.so is not supported by Culex/);
  assert.match(lines[1]!, /:2\.$/);
});

test('plugin_opt_config_file needs a plugin line first; other plugin options are refused', () => {
  assert.match(errorLines('plugin_opt_config_file /x.json\n')[0]!, /before any plugin line/);
  assert.match(errorLines('plugin dynamic-security\nplugin_opt_config_file /x.json\nplugin_opt_config_file /y.json\n')[0]!, /Duplicate plugin_opt_config_file/);
  assert.match(errorLines('plugin dynamic-security\nplugin_opt_other 1\n')[0]!, /"plugin_opt_other" is not supported by Culex/);
});

test('a dynamic-security plugin without plugin_opt_config_file is inactive, with Mosquitto\'s warning', () => {
  const config = read('listener 1883\nplugin dynamic-security\n');
  assert.equal(config.dynsecFile, undefined);
  assert.ok(config.notices.some((notice) => /no plugin_opt_config_file defined/.test(notice)));
});

test('per_listener_settings true: password_file, acl_file, allow_anonymous and plugin bind to the listener above them', () => {
  const config = read(
    [
      'per_listener_settings true',
      'listener 1883',
      'allow_anonymous true',
      'listener 1884',
      'password_file /etc/culex/passwd',
      'acl_file /etc/culex/acl',
      'listener 1885',
      'plugin dynamic-security',
      'plugin_opt_config_file /etc/culex/dynsec.json',
      '',
    ].join('\n'),
  );
  assert.equal(config.perListenerSettings, true);
  assert.deepEqual(
    config.listeners.map((l) => [l.port, l.security.allowAnonymous, l.security.passwordFile, l.security.aclFile, l.security.dynsecFile]),
    [
      [1883, true, undefined, undefined, undefined],
      [1884, undefined, '/etc/culex/passwd', '/etc/culex/acl', undefined],
      [1885, undefined, undefined, undefined, '/etc/culex/dynsec.json'],
    ],
  );
  assert.equal(config.passwordFile, undefined, 'nothing global');
});

test('per_listener_settings must come before any security option, as in Mosquitto', () => {
  assert.match(errorLines('allow_anonymous true\nper_listener_settings true\n')[0]!, /per_listener_settings must be set before any other security settings/);
  assert.match(errorLines('per_listener_settings true\nlistener 1883\npassword_file /a\npassword_file /b\n')[0]!, /Duplicate password_file/);
  // a second listener may have its own password file
  assert.equal(read('per_listener_settings true\nlistener 1883\npassword_file /a\nlistener 1884\npassword_file /b\n').listeners[1]!.security.passwordFile, '/b');
});
