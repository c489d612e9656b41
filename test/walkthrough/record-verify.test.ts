// The walkthrough recorder end to end, so it cannot rot silently: a short scenario (a Culex broker
// on a free port, ss, one pub/sub, Ctrl-C) is really typed into a terminal on a private X display,
// recorded, encoded, and then checked by the verifier — ffprobe and OCR of the chapter frames.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { displayUnavailableExitCode } from '../../scripts/walkthrough/display.js';
import { loadScenario } from '../../scripts/walkthrough/scenario.js';
import { verify, type Finding } from '../../scripts/walkthrough/verify.js';
import { findFreePort } from '../helpers/ports.js';
import { needTools } from '../helpers/tools.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const scenarioFile = join(repoRoot, 'scripts/walkthrough/scenarios/culex-quick.json');
const tools = ['Xvfb', 'xterm', 'xdotool', 'tmux', 'ffmpeg', 'ffprobe', 'tesseract', 'espeak-ng'];
const packages = 'xvfb xterm xdotool tmux ffmpeg tesseract-ocr espeak-ng fonts-dejavu-core';

function record(out: string, port: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/walkthrough/record.ts', scenarioFile, '--out', out, '--var', `port=${port}`], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The recorder cleans up its display, panes and broker on SIGTERM; SIGKILL only if it hangs.
    const stop = setTimeout(() => child.kill('SIGTERM'), 100_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('close', (code) => {
      clearTimeout(stop);
      clearTimeout(kill);
      resolve({ code, output });
    });
  });
}

function report(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.ok ? 'ok' : 'FAIL'} ${f.what}`).join('\n');
}

test('walkthrough: a 30-second scenario is recorded from a real terminal and passes the verifier', { timeout: 400_000 }, async (t) => {
  if (!needTools(t, tools, packages)) return;
  if (!existsSync(join(repoRoot, 'dist/cli/culex.js'))) assert.fail('dist/ is missing: run npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'culex-walkthrough-test-'));
  try {
    // Two attempts: on a machine loaded far past its cores (several suites at once), the X server
    // can lag the terminal so that a frame OCR reads is still being drawn; a second recording that
    // also fails is a real failure, and the first attempt's findings are printed either way.
    let findings: Finding[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const port = await findFreePort();
      const out = join(dir, `quick-${attempt}.mp4`);
      const { code, output } = await record(out, port);
      if (code === displayUnavailableExitCode) {
        // Xvfb ran but no X client could open its display (seen once on a CI machine): the machine
        // cannot show a window at all, which no change to Culex can mend. Say so loudly and skip.
        console.log(`walkthrough test skipped: this machine's X server is unusable\n${output}`);
        t.skip(`no X client can open a display here: ${output.split('\n').slice(-4).join(' ').slice(0, 400)}`);
        return;
      }
      assert.equal(code, 0, `the recorder failed:\n${output}`);
      findings = await verify(out, loadScenario(scenarioFile, { port: String(port) }));
      if (findings.every((finding) => finding.ok)) break;
      console.log(`walkthrough attempt ${attempt} of 2 failed the verifier:\n${report(findings)}`);
    }
    const failed = findings.filter((finding) => !finding.ok).map((finding) => finding.what);
    assert.deepEqual(failed, [], `verifier findings:\n${report(findings)}`);
    // The screens were really read: the published message is among the checks that passed.
    assert.ok(findings.some((finding) => finding.ok && finding.what.includes('hello-ci')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
