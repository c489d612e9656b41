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

/** Starts Xvfb on a free display number (Xvfb picks it and reports it through -displayfd). */
export async function startDisplay(): Promise<Display> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${screenWidth}x${screenHeight}x24`, '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const number = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not start within 15 s')), 15_000);
    xvfb.stdio[3]?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.trim());
      }
    });
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with code ${code}`)));
  });
  return { name: `:${number}`, stop: () => stopChild(xvfb) };
}

export interface Terminal {
  stop(): Promise<void>;
}

/**
 * Opens an xterm on the display running `command` (the tmux client), then, there being no window
 * manager, places and sizes it with xdotool.
 */
export async function openTerminal(display: Display, command: readonly string[]): Promise<Terminal> {
  const xterm = spawn(
    'xterm',
    ['-display', display.name, '-fa', terminalFont, '-bg', '#1d1f21', '-fg', '#e6e6e6', '-b', '0', '-bw', '0',
      '+sb', '-u8', '-title', 'walkthrough', '-geometry', '100x25+0+0', '-e', ...command],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let errors = '';
  xterm.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const env = { ...process.env, DISPLAY: display.name };
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
  if (!placed) {
    await stopChild(xterm);
    const why = xterm.exitCode !== null ? `xterm exited with code ${xterm.exitCode}` : 'no window within 30 s';
    throw new Error(`the terminal did not open: ${why} ${errors.trim()}`);
  }
  return { stop: () => stopChild(xterm) };
}
