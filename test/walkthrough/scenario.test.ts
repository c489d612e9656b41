// The scenario format's validation: every shipped scenario loads, and the mistakes a scenario
// author can make with browser actions and `prepare` are refused with the file and field named.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadScenario, ScenarioError } from '../../scripts/walkthrough/scenario.js';

const scenariosDir = fileURLToPath(new URL('../../scripts/walkthrough/scenarios/', import.meta.url));

function base(machine: 'host' | 'debian', actions: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { pt: 'Título', en: 'Title' },
    machine,
    panes: { left: { pt: 'terminal', en: 'terminal' } },
    duration: { min: 1, max: 10 },
    steps: [{ id: 'one', title: { pt: 'Um', en: 'One' }, caption: { pt: 'Um passo.', en: 'One step.' }, actions }],
    ...extra,
  };
}

function load(scenario: Record<string, unknown>): () => unknown {
  const dir = mkdtempSync(join(tmpdir(), 'culex-scenario-'));
  const file = join(dir, 'scenario.json');
  writeFileSync(file, JSON.stringify(scenario));
  return () => {
    try {
      return loadScenario(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('every shipped walkthrough scenario loads and validates', () => {
  const files = readdirSync(scenariosDir).filter((name) => name.endsWith('.json'));
  assert.ok(files.includes('culex.json') && files.includes('mosquitto.json'), files.join(', '));
  for (const name of files) {
    const scenario = loadScenario(join(scenariosDir, name));
    assert.ok(scenario.steps.length > 0, name);
  }
});

test('the Culex scenario drives a browser window and prepares its machine off screen', () => {
  const scenario = loadScenario(join(scenariosDir, 'culex.json'));
  assert.equal(scenario.machine, 'debian');
  assert.ok((scenario.prepare ?? []).length > 0);
  const browserActions = scenario.steps.flatMap((step) => step.actions).filter((action) => action.browser);
  assert.ok(browserActions.some((action) => action.browser?.goto?.startsWith('http://127.0.0.1:')));
  assert.ok(browserActions.some((action) => action.browser?.click === '#apply'));
});

test('browser actions: exactly one kind, fill needs text, no pane or keys beside them', () => {
  const ok = base('host', [{ browser: { fill: '#rate', text: '5' } }, { browser: { waitFor: '.card', hasText: '5 Hz' } }]);
  assert.doesNotThrow(load(ok));
  const cases: [unknown, RegExp][] = [
    [{ browser: { goto: 'http://127.0.0.1/', click: '#x' } }, /exactly one of goto, fill, click, waitFor, close/],
    [{ browser: {} }, /exactly one of/],
    [{ browser: { fill: '#rate' } }, /"fill" needs a "text"/],
    [{ pane: 'left', browser: { click: '#x' } }, /a "browser" action has no "pane", "type" or "keys"/],
    [{ type: 'ls' }, /unknown pane "undefined"/],
  ];
  for (const [action, message] of cases) {
    assert.throws(load(base('host', [action])), (error: Error) => error instanceof ScenarioError && message.test(error.message) && /scenario\.json: steps\[0\]/.test(error.message));
  }
});

test('prepare: only for the debian machine, and only shell command strings', () => {
  assert.doesNotThrow(load(base('debian', [{ pane: 'left', type: 'ls' }], { prepare: ['true'] })));
  assert.throws(load(base('host', [{ pane: 'left', type: 'ls' }], { prepare: ['true'] })), /prepare: only for the "debian" machine/);
  assert.throws(load(base('debian', [{ pane: 'left', type: 'ls' }], { prepare: [1] })), /prepare: must be a list of shell commands/);
});
