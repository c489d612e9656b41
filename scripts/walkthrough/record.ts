// npm run walkthrough -- SCENARIO [--out FILE] [--var NAME=VALUE ...] [--no-narration] [--cache DIR] [--keep]
// Records a scenario: a real terminal on a private X display, every command typed and really run,
// each step waiting for its output; then the MP4 with title card, chapters, subtitles, narration.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow } from './browser-window.js';
import { startCapture, type Capture } from './capture.js';
import { runCommand, sleep } from './commands.js';
import { DisplayUnavailable, displayUnavailableExitCode, openTerminal, screenWidth, startDisplay, terminalHeight, type Display, type Terminal } from './display.js';
import { encode } from './encode.js';
import { speak, writeTrack, type Clip } from './narration.js';
import { Panes } from './panes.js';
import { loadScenario, ScenarioError, type Scenario, type Step } from './scenario.js';
import { prepareBaseRoot, sandboxUser, startSandbox, type Sandbox } from './sandbox.js';
import { chapters, subtitles, type Span } from './timeline.js';


interface Options {
  readonly scenarioFile: string;
  readonly out: string;
  readonly variables: Record<string, string>;
  readonly narration: boolean;
  readonly cacheDir: string;
  readonly keep: boolean;
}

function parseArguments(argv: readonly string[]): Options {
  let scenarioFile: string | undefined;
  let out: string | undefined;
  let narration = true;
  let keep = false;
  let cacheDir = join(homedir(), '.cache', 'culex-walkthrough');
  const variables: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new ScenarioError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--out') out = value();
    else if (arg === '--cache') cacheDir = value();
    else if (arg === '--no-narration') narration = false;
    else if (arg === '--keep') keep = true;
    else if (arg === '--var') {
      const [name, ...rest] = value().split('=');
      if (!name || rest.length === 0) throw new ScenarioError('--var wants NAME=VALUE');
      variables[name] = rest.join('=');
    } else if (arg.startsWith('-')) throw new ScenarioError(`unknown option ${arg}`);
    else scenarioFile = arg;
  }
  if (!scenarioFile) throw new ScenarioError('usage: npm run walkthrough -- SCENARIO.json [--out FILE.mp4] [--var NAME=VALUE]');
  // A bare name is one of the scenarios shipped here: `culex` is scenarios/culex.json.
  if (/^[\w-]+$/.test(scenarioFile) && !existsSync(scenarioFile)) scenarioFile = fileURLToPath(new URL(`./scenarios/${scenarioFile}.json`, import.meta.url));
  out ??= `walkthrough-${basename(scenarioFile).replace(/\.json$/, '')}.mp4`;
  return { scenarioFile, out: resolve(out), variables, narration, cacheDir, keep };
}

const started = Date.now();
const log = (line: string): void => console.log(`[walkthrough ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);

/** Plays one step on the panes; returns when its result has been on screen long enough. */
async function playStep(scenario: Scenario, step: Step, panes: Panes, browser: BrowserWindow, capture: Capture, minimumSeconds: number): Promise<void> {
  const began = capture.now();
  for (const action of step.actions) {
    if (action.browser) {
      await browser.run(action.browser, action.timeout ?? 60);
      await sleep((action.pause ?? 1.5) * 1000);
      continue;
    }
    const pane = scenario.panes[action.pane!]!;
    const name = action.pane!;
    if (action.clear) await panes.clear(name, pane);
    let from = 0;
    if (action.type !== undefined) from = await panes.type(name, pane, action.type, scenario.typingSpeed ?? 11);
    else if (action.keys !== undefined) from = await panes.keys(name, pane, action.keys);
    const expect = action.expect !== undefined ? new RegExp(action.expect, 'm') : undefined;
    await panes.wait(name, from, expect, action.prompt ?? action.type !== undefined, action.timeout ?? 60);
    await sleep((action.pause ?? 1.5) * 1000);
  }
  const rest = Math.max(step.hold ?? 3, minimumSeconds - (capture.now() - began));
  await sleep(rest * 1000);
}

async function record(options: Options): Promise<void> {
  const scenario = loadScenario(options.scenarioFile, options.variables);
  const work = mkdtempSync(join(tmpdir(), 'culex-walkthrough-'));
  const titleSeconds = scenario.titleSeconds ?? 6;
  const cleanups: (() => Promise<void>)[] = [];
  // Interrupted (Ctrl-C, or a test runner's timeout): still stop the display, panes and sandbox.
  const interrupted = (): void => {
    log('interrupted; cleaning up');
    void Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup())).then(() => {
      if (!options.keep) rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const clips = new Map<string, Clip>();
    if (options.narration && scenario.narration !== false) {
      log('narration: espeak-ng');
      clips.set('title', await speak(`${scenario.title.pt}. ${scenario.subtitle?.pt ?? ''}`, work, 'title'));
      for (const step of scenario.steps) clips.set(step.id, await speak(step.caption.pt, work, step.id));
    }

    // A host pane is a plain bash with only the scenario's prompt: no user's rc files on screen.
    const rcfile = join(work, 'bashrc');
    writeFileSync(rcfile, `PS1=${JSON.stringify(scenario.prompt ?? '$ ')}\n`);
    let shell: readonly string[] = ['bash', '--noprofile', '--rcfile', rcfile, '-i'];
    let prompt = /\$$/;
    let netns: string | undefined;
    if (scenario.machine === 'debian') {
      const base = await prepareBaseRoot(options.cacheDir, log);
      const sandbox: Sandbox = await startSandbox(base);
      cleanups.unshift(() => sandbox.stop());
      shell = sandbox.shell;
      netns = sandbox.netns;
      for (const command of scenario.prepare ?? []) {
        log(`prepare: ${command}`);
        await runCommand('sh', ['-c', command], { env: { ...process.env, ROOT: sandbox.root, SANDBOX_USER: sandboxUser }, timeoutMs: 600_000 });
      }
    } else if (scenario.prompt) {
      prompt = new RegExp(`${scenario.prompt.trimEnd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    }

    const display: Display = await startDisplay();
    cleanups.unshift(() => display.stop());
    const env = { ...process.env, DISPLAY: display.name, TERM: 'xterm-256color', LANG: 'C.UTF-8' };
    const panes = new Panes({ socket: join(work, 'tmux.sock'), shell, cwd: process.cwd(), env, prompt });
    const [firstPane] = Object.keys(scenario.panes);
    const attach = await panes.start(firstPane!, scenario.panes[firstPane!]!);
    cleanups.unshift(() => panes.stop());
    const terminal: Terminal = await openTerminal(display, attach);
    cleanups.unshift(() => terminal.stop());
    await panes.wait(firstPane!, 0, undefined, true, 60);
    await panes.setStatus(`${scenario.title.pt} · ${scenario.title.en}`);
    await sleep(1500);

    const half = screenWidth / 2;
    const browser = new BrowserWindow({
      display: display.name, dir: work, netns, charsPerSecond: scenario.typingSpeed ?? 11,
      region: scenario.browserWindow ?? { x: half, y: 0, width: half, height: terminalHeight },
    });
    cleanups.unshift(() => browser.close());

    const capture = await startCapture(display, join(work, 'capture.mkv'));
    cleanups.unshift(() => capture.stop());
    const spans: Span[] = [];
    const total = scenario.steps.length;
    for (const [index, step] of scenario.steps.entries()) {
      log(`step ${index + 1}/${total}: ${step.id}`);
      await panes.setStatus(`${index + 1}/${total} · ${step.title.pt} · ${step.title.en}`);
      const start = capture.now();
      await playStep(scenario, step, panes, browser, capture, (clips.get(step.id)?.seconds ?? 0) + 0.8);
      spans.push({ title: step.title, caption: step.caption, start: start + titleSeconds, end: capture.now() + titleSeconds });
    }
    await sleep(500);
    const captured = capture.now();
    for (const cleanup of cleanups.splice(0)) await cleanup();

    // The title card is chapter 0; each step's chapter starts when its first key is pressed.
    const titleSpan: Span = {
      title: { pt: 'Título', en: 'Title' },
      caption: { pt: scenario.subtitle?.pt ?? scenario.title.pt, en: scenario.subtitle?.en ?? scenario.title.en },
      start: 0,
      end: spans[0]?.start ?? titleSeconds,
    };
    const all = [titleSpan, ...spans];
    const files = { pt: join(work, 'pt.srt'), en: join(work, 'en.srt'), chapters: join(work, 'chapters.txt') };
    writeFileSync(files.pt, subtitles(all, 'pt'));
    writeFileSync(files.en, subtitles(all, 'en'));
    writeFileSync(files.chapters, chapters(`${scenario.title.pt} / ${scenario.title.en}`, all));
    let narration: string | undefined;
    if (clips.size > 0) {
      narration = join(work, 'narration.wav');
      const placed = [{ at: 0.3, clip: clips.get('title')! }, ...scenario.steps.map((step, i) => ({ at: spans[i]!.start, clip: clips.get(step.id)! }))];
      writeTrack(narration, titleSeconds + captured, placed);
    }
    log(`encoding ${options.out}`);
    await encode({
      dir: work, capture: join(work, 'capture.mkv'), titleSeconds, title: scenario.title, subtitle: scenario.subtitle,
      subtitlesPt: files.pt, subtitlesEn: files.en, chapters: files.chapters, narration, out: options.out,
    });
    log(`done: ${options.out} (${(titleSeconds + captured).toFixed(1)} s)`);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    for (const cleanup of cleanups) await cleanup().catch((error: Error) => log(`cleanup: ${error.message}`));
    if (options.keep) log(`intermediate files kept in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

try {
  await record(parseArguments(process.argv.slice(2)));
} catch (error) {
  console.error(`walkthrough: ${(error as Error).message}`);
  // 3 tells the suite the machine cannot run an X client at all, as distinct from a recorder failure.
  process.exitCode = error instanceof DisplayUnavailable ? displayUnavailableExitCode : 1;
}
