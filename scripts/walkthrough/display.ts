// The screen being recorded: a private X server (Xvfb) with one xterm filling its top part; the
// bottom band stays empty so that players draw the subtitles there instead of over the output.
import { spawn, type ChildProcess } from 'node:child_process';
import { runCommand, sleep } from './commands.js';

export const screenWidth = 1280;
export const screenHeight = 720;
/** Height of the terminal window; the rest of the screen is the subtitles' band. */
export const terminalHeight = 624;
/** DejaVu Sans Mono at 20 px: legible at 720p, and about 106 columns across. */
const terminalFont = 'DejaVu Sans Mono:pixelsize=20';

export interface Display {
  /** The X display name, e.g. ":7". */
  readonly name: string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The X server started but no client could use it: an environment fault, not a recorder bug. */
export const displayUnavailableExitCode = 3;
export class DisplayUnavailable extends Error {}

/** Keeps the last few KiB a child wrote to stderr, for the error that explains a failure. */
function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4000)));
  return () => tail.trim();
}

/** Starts one Xvfb on a free display number (Xvfb picks it and reports it through -displayfd). */
async function launchXvfb(): Promise<{ xvfb: ChildProcess; name: string; errors: () => string }> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${screenWidth}x${screenHeight}x24`, '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const errors = stderrTail(xvfb);
  const number = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start within 15 s\n${errors()}`)), 15_000);
    xvfb.stdio[3]?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.trim());
      }
    });
    xvfb.once('error', (error) => reject(new Error(`Xvfb: ${error.message}`)));
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with code ${code}\n${errors()}`)));
  });
  return { xvfb, name: `:${number}`, errors };
}

/** Whether an X client can open the display and sees our screen size (xdotool goes through Xlib, as xterm and ffmpeg do). */
async function probeDisplay(name: string): Promise<string | undefined> {
  let why = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const { stdout } = await runCommand('xdotool', ['getdisplaygeometry'], { env: { ...process.env, DISPLAY: name }, timeoutMs: 5000 });
      if (stdout.trim() === `${screenWidth} ${screenHeight}`) return undefined;
      why = `the display answers with a ${stdout.trim()} screen: another X server holds ${name}`;
    } catch (error) {
      why = (error as Error).message;
    }
    await sleep(250);
  }
  return why;
}

/**
 * Starts a private X server and checks that a client can really use it before anything is drawn
 * on it; a server that reports a display no client can open is replaced (up to three tries), and
 * the last failure says what each side printed.
 */
export async function startDisplay(): Promise<Display> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { xvfb, name, errors } = await launchXvfb();
    const why = await probeDisplay(name);
    if (why === undefined) return { name, stop: () => stopChild(xvfb) };
    const alive = xvfb.exitCode === null && xvfb.signalCode === null;
    await stopChild(xvfb);
    failures.push(`try ${attempt}: display ${name}, Xvfb ${alive ? 'running' : 'gone'}; client: ${why.trim()}; Xvfb: ${errors() || '(nothing on stderr)'}`);
  }
  throw new DisplayUnavailable(`no X client could open the private display:\n${failures.join('\n')}`);
}

export interface Terminal {
  stop(): Promise<void>;
}

/**
 * Opens an xterm on the display running `command` (the tmux client), then, there being no window
 * manager, places and sizes it with xdotool.
 */
export async function openTerminal(display: Display, command: readonly string[]): Promise<Terminal> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const opened = await launchTerminal(display, command);
    if (typeof opened !== 'string') return opened;
    failures.push(`try ${attempt}: ${opened}`);
  }
  throw new Error(`the terminal did not open:\n${failures.join('\n')}`);
}

/** One xterm, placed full width; the reason it failed when it did. */
async function launchTerminal(display: Display, command: readonly string[]): Promise<Terminal | string> {
  const env = { ...process.env, DISPLAY: display.name };
  const xterm = spawn(
    'xterm',
    ['-display', display.name, '-fa', terminalFont, '-bg', '#1d1f21', '-fg', '#e6e6e6', '-b', '0', '-bw', '0',
      '+sb', '-u8', '-title', 'walkthrough', '-geometry', '100x25+0+0', '-e', ...command],
    { stdio: ['ignore', 'ignore', 'pipe'], env },
  );
  const errors = stderrTail(xterm);
  let placed = false;
  for (let attempt = 0; attempt < 150 && !placed && xterm.exitCode === null; attempt++) {
    try {
      const { stdout } = await runCommand('xdotool', ['search', '--name', '^walkthrough$'], { env, timeoutMs: 5000 });
      const window = stdout.trim().split('\n')[0];
      if (window) {
        await runCommand('xdotool', ['windowmove', window, '0', '0', 'windowsize', window, String(screenWidth), String(terminalHeight)], { env });
        placed = true;
      }
    } catch {
      await sleep(200);
    }
  }
  if (placed) return { stop: () => stopChild(xterm) };
  await stopChild(xterm);
  const why = xterm.exitCode !== null ? `xterm exited with code ${xterm.exitCode}` : 'no window within 30 s';
  return `${why} on display ${display.name}: ${errors()}`;
}
