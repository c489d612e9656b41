// From the times the steps took to the files ffmpeg muxes: SRT subtitles (one per language) and
// an FFMETADATA file with one chapter for the title card and one per step.
import type { Bilingual } from './scenario.js';

export interface Span {
  /** Chapter title and subtitle text, per language. */
  readonly title: Bilingual;
  readonly caption: Bilingual;
  /** Seconds from the start of the final video. */
  readonly start: number;
  readonly end: number;
}

function srtTime(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)},${pad(ms % 1000, 3)}`;
}

/** Breaks a caption into lines of about `width` characters, at spaces. */
export function wrap(text: string, width = 58): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

export function subtitles(spans: readonly Span[], language: keyof Bilingual): string {
  return spans
    .map((span, index) => `${index + 1}\n${srtTime(span.start)} --> ${srtTime(span.end - 0.05)}\n${wrap(span.caption[language])}\n`)
    .join('\n');
}

function metadataValue(text: string): string {
  return text.replace(/[=;#\\\n]/g, (char) => `\\${char}`);
}

/** Chapter titles carry both languages: "3. Instalar o broker / Install the broker". */
export function chapters(title: string, spans: readonly Span[]): string {
  const lines = [';FFMETADATA1', `title=${metadataValue(title)}`];
  spans.forEach((span, index) => {
    lines.push(
      '[CHAPTER]',
      'TIMEBASE=1/1000',
      `START=${Math.round(span.start * 1000)}`,
      `END=${Math.round(span.end * 1000)}`,
      `title=${metadataValue(`${index}. ${span.title.pt} / ${span.title.en}`)}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
