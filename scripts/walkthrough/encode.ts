// The final MP4: a title card followed by the capture, joined without re-encoding (both are
// H.264 yuv420p with the same settings), with +faststart, two soft
// subtitle tracks (Brazilian Portuguese first and default, then English), the chapters, and the
// narration when there is one.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './commands.js';
import { framesPerSecond, videoEncoding } from './capture.js';
import { screenHeight, screenWidth } from './display.js';
import type { Bilingual } from './scenario.js';

const regularFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const boldFont = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

export interface EncodeInput {
  readonly dir: string;
  readonly capture: string;
  readonly titleSeconds: number;
  readonly title: Bilingual;
  readonly subtitle?: Bilingual;
  readonly subtitlesPt: string;
  readonly subtitlesEn: string;
  readonly chapters: string;
  readonly narration?: string;
  readonly out: string;
}

/** drawtext reads each line from a file, which spares escaping quotes and colons in the text. */
function textLine(dir: string, name: string, text: string, font: string, size: number, y: number, color: string): string {
  const file = join(dir, `title-${name}.txt`);
  writeFileSync(file, text);
  return `drawtext=fontfile=${font}:textfile=${file}:fontsize=${size}:fontcolor=${color}:x=(w-text_w)/2:y=${y}`;
}

function titleCard(input: EncodeInput): string {
  const { dir, title, subtitle } = input;
  const lines = [
    textLine(dir, 'pt', title.pt, boldFont, 40, 230, 'white'),
    textLine(dir, 'en', title.en, regularFont, 30, 290, '0xb0c4de'),
  ];
  if (subtitle) {
    lines.push(textLine(dir, 'sub-pt', subtitle.pt, regularFont, 24, 380, '0xdddddd'));
    lines.push(textLine(dir, 'sub-en', subtitle.en, regularFont, 22, 420, '0x999999'));
  }
  lines.push(textLine(dir, 'foot', 'Todos os comandos executados de verdade · Every command really runs', regularFont, 20, 620, '0x8899aa'));
  return lines.join(',');
}

/** The title card as its own piece, in the capture's encoding. */
async function encodeTitle(input: EncodeInput, file: string): Promise<void> {
  const card = `color=c=0x1d1f21:s=${screenWidth}x${screenHeight}:r=${framesPerSecond}:d=${input.titleSeconds}`;
  await runCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', card,
    '-vf', `${titleCard(input)},setsar=1`, ...videoEncoding, file], { timeoutMs: 10 * 60_000 });
}

export async function encode(input: EncodeInput): Promise<void> {
  const title = join(input.dir, 'title.mkv');
  await encodeTitle(input, title);
  const list = join(input.dir, 'pieces.txt');
  writeFileSync(list, `file '${title}'\nfile '${input.capture}'\n`);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'concat', '-safe', '0', '-i', list,
    '-i', input.subtitlesPt,
    '-i', input.subtitlesEn,
    '-i', input.chapters,
    ...(input.narration ? ['-i', input.narration] : []),
    '-map', '0:v', '-map', '1:s', '-map', '2:s',
    ...(input.narration ? ['-map', '4:a'] : []),
    '-map_metadata', '3', '-map_chapters', '3',
    '-c:v', 'copy',
    '-c:s', 'mov_text',
    '-metadata:s:s:0', 'language=por', '-metadata:s:s:0', 'title=Português (Brasil)', '-disposition:s:0', 'default',
    '-metadata:s:s:1', 'language=eng', '-metadata:s:s:1', 'title=English', '-disposition:s:1', '0',
    ...(input.narration
      ? ['-c:a', 'aac', '-b:a', '48k', '-ac', '1', '-metadata:s:a:0', 'language=por', '-metadata:s:a:0', 'title=Narração (pt-BR, espeak-ng)']
      : []),
    '-movflags', '+faststart',
    input.out,
  ];
  await runCommand('ffmpeg', args, { timeoutMs: 30 * 60_000 });
}
