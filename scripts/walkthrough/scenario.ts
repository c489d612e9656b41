// A walkthrough scenario is data: a JSON file listing the steps of a video — captions in Brazilian
// Portuguese and English, what is typed in which terminal pane, the output each step waits for, and
// what the verifier's OCR must (or must not) read on the step's last frame.
import { readFileSync } from 'node:fs';

/** Every caption and title exists in both languages of the video. */
export interface Bilingual {
  readonly pt: string;
  readonly en: string;
}

/**
 * One thing done in the scenario's browser window (a real Chromium on the recorded display, see
 * browser-window.ts): exactly one of `goto`, `fill`, `click`, `waitFor` or `close`.
 */
export interface BrowserAction {
  /** Opens the window on first use, then loads this address. */
  readonly goto?: string;
  /** A CSS selector of a text field: it is cleared, then `text` is typed into it at human pace. */
  readonly fill?: string;
  readonly text?: string;
  /** A CSS selector: the pointer moves there and clicks. */
  readonly click?: string;
  /** A CSS selector that must become visible (with `hasText`, contain that text); it is then scrolled into view. */
  readonly waitFor?: string;
  readonly hasText?: string;
  /** Closes the window. */
  readonly close?: boolean;
}

export interface Action {
  /** The pane that receives the keys; a pane used for the first time opens beside the others. */
  readonly pane?: string;
  /** Instead of a pane: an action in the browser window (then `pane`, `type` and `keys` are not used). */
  readonly browser?: BrowserAction;
  /**
   * A command line, typed at human pace and followed by Enter. With neither `type` nor `keys`
   * the action only waits, for `expect` in that pane (e.g. the subscriber's pane, after a publish
   * in the other one); its whole scrollback is searched then.
   */
  readonly type?: string;
  /** tmux key names sent one after another (e.g. "C-c", "y", "Enter"), each after a short pause. */
  readonly keys?: readonly string[];
  /** Press Ctrl-L first, so the screen (and the verifier's frame) shows only what follows. */
  readonly clear?: boolean;
  /** A regular expression (multiline: ^ and $ match at line ends) the pane's new output must match before the step goes on. */
  readonly expect?: string;
  /** Wait for the shell prompt to come back (default: true for typed commands). */
  readonly prompt?: boolean;
  /** Seconds to wait for `expect` and the prompt; past it the recording fails. Default 60. */
  readonly timeout?: number;
  /** Seconds to wait after the action, so a viewer can read the result. Default 1.5. */
  readonly pause?: number;
}

/** What OCR must read on the frame shown at the end of the step's chapter. */
export interface ScreenCheck {
  /** The part of the frame read: the whole screen, or the left or right half (two panes). */
  readonly region?: 'screen' | 'left' | 'right';
  /** Regular expressions that must match the text read (case-insensitive). */
  readonly show?: readonly string[];
  /** Regular expressions that must not match it. */
  readonly hide?: readonly string[];
}

export interface Step {
  readonly id: string;
  /** Short: the chapter title and the status line. */
  readonly title: Bilingual;
  /** One or two sentences: the subtitles and, in Portuguese, the narration. */
  readonly caption: Bilingual;
  readonly actions: readonly Action[];
  /** Seconds the final state stays on screen before the next step. Default 3. */
  readonly hold?: number;
  readonly check?: ScreenCheck;
}

export interface Scenario {
  readonly title: Bilingual;
  readonly subtitle?: Bilingual;
  /**
   * Where the commands run: `host` is this machine (a shell in the working directory), `debian`
   * a fresh Debian root with its own network namespace, so its services really install and bind.
   */
  readonly machine: 'host' | 'debian';
  /**
   * Shell commands run as root on the recording host once the Debian root is up and before the
   * recording starts: how the machine is prepared off screen (e.g. copying files into it). They run
   * from the project's directory, with ROOT set to the root's directory and SANDBOX_USER to its user.
   */
  readonly prepare?: readonly string[];
  /** Where the browser window goes, in pixels of the 1280×720 screen. Default: the right half of the terminal. */
  readonly browserWindow?: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** The shell prompt on host panes (the Debian root shows its user's own). */
  readonly prompt?: string;
  /** Named panes and their titles, in the order they open (left to right). */
  readonly panes: Readonly<Record<string, Bilingual>>;
  /** Typing speed in characters per second. Default 11. */
  readonly typingSpeed?: number;
  readonly narration?: boolean;
  /** Seconds the title card is shown. Default 6. */
  readonly titleSeconds?: number;
  /** The bounds the verifier enforces on the whole video, in seconds. */
  readonly duration: { readonly min: number; readonly max: number };
  /** Defaults for `{{name}}` placeholders; `--var name=value` overrides them. */
  readonly variables?: Readonly<Record<string, string>>;
  readonly steps: readonly Step[];
}

export class ScenarioError extends Error {}

function requireBilingual(value: unknown, where: string): void {
  const text = value as Partial<Bilingual> | undefined;
  if (typeof text?.pt !== 'string' || typeof text.en !== 'string' || !text.pt || !text.en) {
    throw new ScenarioError(`${where}: needs non-empty "pt" and "en" texts`);
  }
}

function requireRegex(source: unknown, where: string): void {
  if (typeof source !== 'string') throw new ScenarioError(`${where}: must be a string`);
  try {
    new RegExp(source);
  } catch (error) {
    throw new ScenarioError(`${where}: not a regular expression (${(error as Error).message})`);
  }
}

function validateBrowserAction(action: BrowserAction, where: string): void {
  const kinds = (['goto', 'fill', 'click', 'waitFor', 'close'] as const).filter((kind) => action[kind] !== undefined);
  if (kinds.length !== 1) throw new ScenarioError(`${where}: a browser action needs exactly one of goto, fill, click, waitFor, close`);
  if (action.fill !== undefined && typeof action.text !== 'string') throw new ScenarioError(`${where}: "fill" needs a "text"`);
}

function validateAction(action: Action, panes: Record<string, Bilingual>, where: string): void {
  if (action.browser !== undefined) {
    if (action.pane !== undefined || action.type !== undefined || action.keys !== undefined) {
      throw new ScenarioError(`${where}: a "browser" action has no "pane", "type" or "keys"`);
    }
    validateBrowserAction(action.browser, `${where}.browser`);
    return;
  }
  if (action.pane === undefined || !(action.pane in panes)) throw new ScenarioError(`${where}: unknown pane "${action.pane}"`);
  if (action.type !== undefined && action.keys !== undefined) {
    throw new ScenarioError(`${where}: "type" and "keys" cannot go in one action`);
  }
  if (action.type === undefined && action.keys === undefined && action.expect === undefined) {
    throw new ScenarioError(`${where}: needs "type", "keys" or (to only wait) "expect"`);
  }
  if (action.keys && (!Array.isArray(action.keys) || action.keys.some((key) => typeof key !== 'string'))) {
    throw new ScenarioError(`${where}: "keys" must be a list of tmux key names`);
  }
  if (action.expect !== undefined) requireRegex(action.expect, `${where}.expect`);
}

function validate(scenario: Scenario): void {
  requireBilingual(scenario.title, 'title');
  if (scenario.machine !== 'host' && scenario.machine !== 'debian') {
    throw new ScenarioError('machine: must be "host" or "debian"');
  }
  if (scenario.prepare !== undefined) {
    if (scenario.machine !== 'debian') throw new ScenarioError('prepare: only for the "debian" machine');
    if (!Array.isArray(scenario.prepare) || scenario.prepare.some((command) => typeof command !== 'string')) {
      throw new ScenarioError('prepare: must be a list of shell commands');
    }
  }
  const panes = (scenario.panes ?? {}) as Record<string, Bilingual>;
  if (Object.keys(panes).length === 0) throw new ScenarioError('panes: name at least one pane');
  for (const [name, title] of Object.entries(panes)) requireBilingual(title, `panes.${name}`);
  const { min, max } = scenario.duration ?? {};
  if (!(typeof min === 'number' && typeof max === 'number' && min < max)) {
    throw new ScenarioError('duration: needs numbers "min" < "max" (seconds)');
  }
  if (!Array.isArray(scenario.steps) || scenario.steps.length === 0) throw new ScenarioError('steps: none');
  const ids = new Set<string>();
  scenario.steps.forEach((step, index) => {
    const where = `steps[${index}]${step.id ? ` (${step.id})` : ''}`;
    if (!step.id || ids.has(step.id)) throw new ScenarioError(`${where}: needs a unique "id"`);
    ids.add(step.id);
    requireBilingual(step.title, `${where}.title`);
    requireBilingual(step.caption, `${where}.caption`);
    if (!Array.isArray(step.actions) || step.actions.length === 0) throw new ScenarioError(`${where}: no actions`);
    step.actions.forEach((action: Action, n: number) => validateAction(action, panes, `${where}.actions[${n}]`));
    for (const pattern of [...(step.check?.show ?? []), ...(step.check?.hide ?? [])]) {
      requireRegex(pattern, `${where}.check`);
    }
  });
}

/** Replaces `{{name}}` everywhere in the file's text before parsing; unknown names are an error. */
function substitute(text: string, variables: Record<string, string>, file: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new ScenarioError(`${file}: no value for {{${name}}} (pass --var ${name}=...)`);
    return JSON.stringify(value).slice(1, -1);
  });
}

/** Reads, fills in and validates a scenario; errors name the file and the offending field. */
export function loadScenario(file: string, overrides: Record<string, string> = {}): Scenario {
  const raw = readFileSync(file, 'utf8');
  let defaults: Record<string, string> = {};
  try {
    defaults = (JSON.parse(raw) as Scenario).variables ?? {};
  } catch (error) {
    throw new ScenarioError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const scenario = JSON.parse(substitute(raw, { ...defaults, ...overrides }, file)) as Scenario;
  try {
    validate(scenario);
  } catch (error) {
    if (error instanceof ScenarioError) throw new ScenarioError(`${file}: ${error.message}`);
    throw error;
  }
  return scenario;
}
