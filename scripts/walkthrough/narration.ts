// Optional narration: espeak-ng speaks each step's Portuguese caption; the clips are laid on one
// mono PCM track at the moments their steps begin. The recorder holds every step at least as long
// as its clip, so the voice never runs into the next step.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './commands.js';

export interface Clip {
  readonly sampleRate: number;
  readonly samples: Buffer;
  readonly seconds: number;
}

/** Reads a 16-bit mono PCM WAV file (what espeak-ng writes). */
function readWav(file: string): Clip {
  const bytes = readFileSync(file);
  let offset = 12;
  let sampleRate = 22050;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const size = bytes.readUInt32LE(offset + 4);
    if (id === 'fmt ') sampleRate = bytes.readUInt32LE(offset + 12);
    if (id === 'data') {
      const samples = bytes.subarray(offset + 8, Math.min(offset + 8 + size, bytes.length));
      return { sampleRate, samples, seconds: samples.length / 2 / sampleRate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no audio data`);
}

/** Speaks one text in Brazilian Portuguese at a calm pace. */
export async function speak(text: string, dir: string, name: string): Promise<Clip> {
  const file = join(dir, `${name}.wav`);
  await runCommand('espeak-ng', ['-v', 'pt-br', '-s', '150', '-w', file, text]);
  return readWav(file);
}

/** Writes one WAV track of `seconds` with each clip starting at its time. */
export function writeTrack(file: string, seconds: number, placed: readonly { readonly at: number; readonly clip: Clip }[]): void {
  const sampleRate = placed[0]?.clip.sampleRate ?? 22050;
  const data = Buffer.alloc(Math.ceil(seconds * sampleRate) * 2);
  for (const { at, clip } of placed) {
    const start = Math.round(at * sampleRate) * 2;
    clip.samples.copy(data, start, 0, Math.max(0, Math.min(clip.samples.length, data.length - start)));
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
}
