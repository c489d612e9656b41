// npm run walkthrough:verify -- FILE.mp4 [--scenario SCENARIO.json] [--var NAME=VALUE ...]
// Checks a recorded walkthrough against its scenario: the container and streams with ffprobe
// (H.264 yuv420p, 1280x720 or more, 25–30 fps, +faststart, duration, one chapter per step, the
// Portuguese and English subtitle tracks), then the screen itself: the frame just before each
// step's chapter ends is read with tesseract, and must show (and not show) what the step promises.
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './commands.js';
import { screenWidth, terminalHeight } from './display.js';
import { loadScenario, ScenarioError, type Scenario, type ScreenCheck } from './scenario.js';

const maxBytes = 15 * 1024 * 1024;
const scenariosDir = fileURLToPath(new URL('./scenarios/', import.meta.url));

interface Probe {
  readonly streams: readonly { codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string; avg_frame_rate?: string; tags?: Record<string, string> }[];
  readonly chapters: readonly { start_time: string; end_time: string; tags?: { title?: string } }[];
  readonly format: { duration: string };
}

export type Finding = { readonly ok: boolean; readonly what: string };

/** True when the 'moov' box comes before 'mdat', i.e. the file plays while it downloads. */
function isFastStart(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(8);
    let offset = 0;
    const size = statSync(file).size;
    for (let boxes = 0; boxes < 64 && offset + 8 <= size; boxes++) {
      readSync(fd, header, 0, 8, offset);
      const type = header.toString('ascii', 4, 8);
      if (type === 'moov') return true;
      if (type === 'mdat') return false;
      let length = header.readUInt32BE(0);
      if (length === 1) {
        const large = Buffer.alloc(8);
        readSync(fd, large, 0, 8, offset + 8);
        length = Number(large.readBigUInt64BE(0));
      }
      if (length < 8) return false;
      offset += length;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

function checkContainer(file: string, probe: Probe, scenario: Scenario): Finding[] {
  const findings: Finding[] = [];
  const check = (ok: boolean, what: string): void => void findings.push({ ok, what });
  const video = probe.streams.find((stream) => stream.codec_type === 'video');
  const [num, den] = (video?.avg_frame_rate ?? '0/1').split('/').map(Number);
  const fps = den ? num! / den : 0;
  check(video?.codec_name === 'h264', `video codec h264 (found ${video?.codec_name})`);
  check(video?.pix_fmt === 'yuv420p', `pixel format yuv420p (found ${video?.pix_fmt})`);
  check((video?.width ?? 0) >= 1280 && (video?.height ?? 0) >= 720, `at least 1280x720 (found ${video?.width}x${video?.height})`);
  check(fps >= 25 && fps <= 30, `25–30 fps (found ${fps.toFixed(2)})`);
  const duration = Number(probe.format.duration);
  check(duration >= scenario.duration.min && duration <= scenario.duration.max,
    `duration within ${scenario.duration.min}–${scenario.duration.max} s (found ${duration.toFixed(1)} s)`);
  const bytes = statSync(file).size;
  check(bytes <= maxBytes, `at most 15 MB (found ${(bytes / 1024 / 1024).toFixed(2)} MB)`);
  check(isFastStart(file), 'moov before mdat (+faststart)');
  for (const [language, name] of [['por', 'Portuguese'], ['eng', 'English']] as const) {
    const track = probe.streams.find((stream) => stream.codec_type === 'subtitle' && stream.tags?.language === language);
    check(track?.codec_name === 'mov_text', `${name} subtitle track (mov_text, language ${language})`);
  }
  check(probe.chapters.length === scenario.steps.length + 1,
    `one chapter for the title and one per step: ${scenario.steps.length + 1} (found ${probe.chapters.length})`);
  scenario.steps.forEach((step, index) => {
    const title = probe.chapters[index + 1]?.tags?.title ?? '';
    check(title.startsWith(`${index + 1}. ${step.title.pt}`), `chapter ${index + 1} is "${step.title.pt}" (found "${title}")`);
  });
  return findings;
}

/** The part of the frame OCR reads; the subtitle band below the terminal is left out. */
function cropFor(region: ScreenCheck['region']): string {
  const half = screenWidth / 2;
  if (region === 'left') return `crop=${half}:${terminalHeight}:0:0`;
  // The right pane's first column starts a few pixels left of the middle, after the border.
  if (region === 'right') return `crop=${half + 8}:${terminalHeight}:${half - 8}:0`;
  return `crop=${screenWidth}:${terminalHeight}:0:0`;
}

async function readScreen(file: string, at: number, region: ScreenCheck['region'], png: string): Promise<string> {
  // Dark terminal → dark text on white, enlarged, with a white margin (text touching the edge of
  // the image loses its first letter): what tesseract reads best.
  await runCommand('ffmpeg', ['-v', 'error', '-y', '-ss', at.toFixed(2), '-i', file, '-frames:v', '1',
    '-vf', `${cropFor(region)},format=gray,negate,pad=iw+24:ih+24:12:12:white,scale=iw*2:ih*2:flags=lanczos`, png]);
  // One thread: tesseract's OpenMP threads only fight each other (and everything else) on a busy machine.
  const env = { ...process.env, OMP_THREAD_LIMIT: '1' };
  const { stdout } = await runCommand('tesseract', [png, 'stdout', '--psm', '6'], { timeoutMs: 120_000, env });
  return stdout;
}

async function checkScreens(file: string, probe: Probe, scenario: Scenario, showText: boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  const work = mkdtempSync(join(tmpdir(), 'culex-walkthrough-verify-'));
  try {
    for (const [index, step] of scenario.steps.entries()) {
      if (!step.check) continue;
      const chapter = probe.chapters[index + 1];
      if (!chapter) continue;
      const at = Math.max(Number(chapter.start_time), Number(chapter.end_time) - 0.6);
      const text = await readScreen(file, at, step.check.region, join(work, `${step.id}.png`));
      if (showText) console.log(`--- ${step.id} at ${at.toFixed(1)} s (${step.check.region ?? 'screen'}):\n${text.trim()}`);
      for (const pattern of step.check.show ?? []) {
        findings.push({ ok: new RegExp(pattern, 'im').test(text), what: `${step.id} @${at.toFixed(1)}s shows /${pattern}/` });
      }
      for (const pattern of step.check.hide ?? []) {
        findings.push({ ok: !new RegExp(pattern, 'im').test(text), what: `${step.id} @${at.toFixed(1)}s does not show /${pattern}/` });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return findings;
}

/** Verifies one file; returns the findings (the caller decides how to report them). */
export async function verify(file: string, scenario: Scenario, showText = false): Promise<Finding[]> {
  const { stdout } = await runCommand('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_chapters', '-show_format', file]);
  const probe = JSON.parse(stdout) as Probe;
  return [...checkContainer(file, probe, scenario), ...(await checkScreens(file, probe, scenario, showText))];
}

function parseArguments(argv: readonly string[]): { file: string; scenarioFile: string; variables: Record<string, string>; showText: boolean } {
  let file: string | undefined;
  let scenarioFile: string | undefined;
  let showText = false;
  const variables: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--scenario') scenarioFile = argv[++i];
    else if (arg === '--show-text') showText = true;
    else if (arg === '--var') {
      const [name, ...rest] = (argv[++i] ?? '').split('=');
      if (!name || rest.length === 0) throw new ScenarioError('--var wants NAME=VALUE');
      variables[name] = rest.join('=');
    } else if (arg.startsWith('-')) throw new ScenarioError(`unknown option ${arg}`);
    else file = arg;
  }
  if (!file) throw new ScenarioError('usage: npm run walkthrough:verify -- FILE.mp4 [--scenario SCENARIO.json] [--var NAME=VALUE] [--show-text]');
  // docs/walkthrough-mosquitto.mp4 is checked against scenarios/mosquitto.json unless told otherwise.
  scenarioFile ??= join(scenariosDir, `${basename(file).replace(/^walkthrough-/, '').replace(/\.mp4$/, '')}.json`);
  return { file, scenarioFile, variables, showText };
}

async function main(): Promise<void> {
  const { file, scenarioFile, variables, showText } = parseArguments(process.argv.slice(2));
  const scenario = loadScenario(scenarioFile, variables);
  const findings = await verify(file, scenario, showText);
  for (const finding of findings) console.log(`${finding.ok ? 'ok  ' : 'FAIL'} ${finding.what}`);
  const failed = findings.filter((finding) => !finding.ok).length;
  console.log(failed === 0 ? `${file}: all ${findings.length} checks pass` : `${file}: ${failed} of ${findings.length} checks fail`);
  if (failed > 0) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await main();
  } catch (error) {
    console.error(`walkthrough:verify: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
