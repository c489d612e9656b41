// The recorded terminal's panes: one tmux server with its own socket, named panes side by side,
// keys sent at a human pace, and the panes' text read back to wait for each step's output.
// tmux rather than xterm alone because tmux can report exactly what a pane shows (capture-pane):
// a step waits for real output, not for a guessed delay. Keys go in with `send-keys`, through the
// same pseudo-terminal a keyboard would use, so what runs is exactly what is seen being typed.
import { runCommand, sleep } from './commands.js';
import type { Bilingual } from './scenario.js';
import { TmuxControl } from './tmux-control.js';

export interface PaneOptions {
  readonly socket: string;
  /** The command each new pane runs (a login shell). */
  readonly shell: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The regular expression a line ending in the shell prompt matches. */
  readonly prompt: RegExp;
}

/** A deterministic pseudo-random generator, so typing rhythm is the same on every recording. */
function rhythm(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A pane's border title: both languages, or one word when they are the same. */
function paneTitle(title: Bilingual): string {
  return title.pt === title.en ? title.pt : `${title.pt} · ${title.en}`;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export class Panes {
  private readonly ids = new Map<string, string>();
  private readonly random = rhythm(1883);
  private control: TmuxControl | undefined;

  constructor(private readonly options: PaneOptions) {}

  /** Through the control client once the session exists; a tmux process per command before. */
  private tmux(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    if (this.control) return this.control.run(args);
    return runCommand('tmux', ['-S', this.options.socket, ...args], { env: this.options.env, cwd: this.options.cwd, timeoutMs }).then((r) => r.stdout);
  }

  /** Starts the server with the first pane; `attach` is the command an xterm runs to show it. */
  async start(firstPane: string, title: Bilingual): Promise<readonly string[]> {
    const shell = this.options.shell.map(shellQuote).join(' ');
    const id = (await this.tmux(['-f', '/dev/null', 'new-session', '-d', '-s', 'walkthrough', '-x', '106', '-y', '25', '-P', '-F', '#{pane_id}', shell])).trim();
    this.ids.set(firstPane, id);
    const settings: string[][] = [
      ['set', '-g', 'status-position', 'top'],
      ['set', '-g', 'status-style', 'bg=colour24,fg=colour255'],
      ['set', '-g', 'status-left-length', '200'],
      ['set', '-g', 'status-right', ''],
      ['set', '-g', 'window-status-format', ''],
      ['set', '-g', 'window-status-current-format', ''],
      ['set', '-g', 'pane-border-status', 'top'],
      ['set', '-g', 'pane-border-format', ' #{pane_title} '],
      ['set', '-g', 'pane-active-border-style', 'fg=colour39'],
      ['set', '-g', 'history-limit', '5000'],
      ['set', '-g', 'escape-time', '0'],
      ['set', '-g', 'allow-rename', 'off'],
    ];
    for (const setting of settings) await this.tmux(setting);
    await this.tmux(['select-pane', '-t', id, '-T', paneTitle(title)]);
    this.control = new TmuxControl(this.options.socket, 'walkthrough', this.options.env);
    return ['tmux', '-S', this.options.socket, 'attach', '-t', 'walkthrough'];
  }

  /** The status line at the top: the step's number and title in both languages. */
  async setStatus(text: string): Promise<void> {
    await this.tmux(['set', '-g', 'status-left', ` ${text.replace(/#/g, '##')} `]);
  }

  /** The pane's tmux id, opening it beside the last one on first use. */
  private async pane(name: string, title: Bilingual): Promise<string> {
    const known = this.ids.get(name);
    if (known) {
      const alive = (await this.tmux(['list-panes', '-a', '-F', '#{pane_id}'])).split('\n');
      if (alive.includes(known)) return known;
      this.ids.delete(name);
    }
    const shell = this.options.shell.map(shellQuote).join(' ');
    const last = [...this.ids.values()].pop();
    const id = (await this.tmux(['split-window', '-h', ...(last ? ['-t', last] : []), '-P', '-F', '#{pane_id}', shell])).trim();
    await this.tmux(['select-layout', 'even-horizontal']);
    await this.tmux(['select-pane', '-t', id, '-T', paneTitle(title)]);
    this.ids.set(name, id);
    await this.waitFor(id, 0, undefined, true, 30);
    return id;
  }

  /** Everything the pane has shown (history included), wrapped lines joined, trailing blanks cut. */
  private async lines(id: string): Promise<string[]> {
    const text = await this.tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', id]);
    const lines = text.split('\n').map((line) => line.trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /**
   * Waits until the output after line `from` matches `expect` (the first of those lines, the typed
   * command itself, is not searched) and, if asked, the prompt is back on the last line.
   */
  private async waitFor(id: string, from: number, expect: RegExp | undefined, prompt: boolean, timeoutSeconds: number): Promise<void> {
    // Nothing to wait for (e.g. `exit`, after which the pane is gone): do not even look.
    if (!expect && !prompt) return;
    const deadline = Date.now() + timeoutSeconds * 1000;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await this.lines(id);
      const fresh = seen.length > from ? seen.slice(from) : seen;
      // From line 0 (a wait-only action) everything counts; otherwise the typed line does not.
      const output = (from === 0 ? fresh : fresh.slice(1)).join('\n');
      const expected = !expect || expect.test(output);
      const last = fresh[fresh.length - 1] ?? '';
      const prompted = !prompt || (fresh.length >= 2 && this.options.prompt.test(last)) || (from === 0 && this.options.prompt.test(last));
      if (expected && prompted) return;
      await sleep(250);
    }
    const wanted = [expect ? `output matching /${expect.source}/` : '', prompt ? 'the shell prompt' : ''].filter(Boolean).join(' and ');
    throw new Error(`waited ${timeoutSeconds} s for ${wanted}; the pane shows:\n${seen.slice(-15).join('\n')}`);
  }

  /** Types a command line at the scenario's pace and presses Enter. */
  async type(name: string, title: Bilingual, text: string, charsPerSecond: number): Promise<number> {
    const id = await this.pane(name, title);
    const from = Math.max((await this.lines(id)).length - 1, 0);
    // Above about 15 keys a second (fast scenarios for tests) keys go a few at a time: one tmux
    // call per key would cost more than the pause between keys on a busy machine.
    const perSend = Math.max(1, Math.ceil(charsPerSecond / 15));
    const mean = (1000 * perSend) / charsPerSecond;
    const chars = [...text];
    for (let i = 0; i < chars.length; i += perSend) {
      const chunk = chars.slice(i, i + perSend).join('');
      const sent = Date.now();
      await this.tmux(['send-keys', '-t', id, '-l', '--', chunk]);
      // People slow down around spaces and punctuation; the jitter keeps the rhythm natural. The
      // time tmux took (long on a busy machine) counts towards the pause, to keep the pace.
      const extra = / |\||-/.test(chunk) && perSend === 1 ? mean * 0.8 : 0;
      await sleep(Math.max(0, mean * (0.55 + this.random() * 0.9) + extra - (Date.now() - sent)));
    }
    await sleep(mean * 3);
    await this.tmux(['send-keys', '-t', id, 'Enter']);
    return from;
  }

  /** Sends tmux key names one after another. */
  async keys(name: string, title: Bilingual, keys: readonly string[]): Promise<number> {
    const id = await this.pane(name, title);
    const from = Math.max((await this.lines(id)).length - 1, 0);
    for (const key of keys) {
      await this.tmux(['send-keys', '-t', id, key]);
      await sleep(350);
    }
    return from;
  }

  /** Clears the pane's screen with Ctrl-L (the shell redraws its prompt at the top). */
  async clear(name: string, title: Bilingual): Promise<void> {
    const id = await this.pane(name, title);
    await this.tmux(['send-keys', '-t', id, 'C-l']);
    await sleep(300);
  }

  async wait(name: string, from: number, expect: RegExp | undefined, prompt: boolean, timeoutSeconds: number): Promise<void> {
    const id = this.ids.get(name);
    if (!id) throw new Error(`no pane "${name}"`);
    await this.waitFor(id, from, expect, prompt, timeoutSeconds);
  }

  /** Stops the tmux server, and with it every pane's shell. */
  async stop(): Promise<void> {
    this.control?.close();
    this.control = undefined;
    await this.tmux(['kill-server']).catch(() => undefined);
  }
}
