// Screen capture: ffmpeg grabs the X display straight into the video's final encoding (see
// encode.ts: the title card is encoded the same way and the two are joined without re-encoding,
// which matters on a busy machine where a second pass over minutes of video takes longer than
// recording them). A terminal is mostly still, so even x264's fastest preset stays small. The moment
// the first frame was taken is learnt from ffmpeg's progress reports, so step times (taken with
// the wall clock) map onto the video's timeline.
import { spawn } from 'node:child_process';
import { screenHeight, screenWidth, type Display } from './display.js';

export const framesPerSecond = 25;

/** The H.264 settings of every piece of the video, identical so that they join with -c copy. */
export const videoEncoding: readonly string[] = [
  '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'stillimage', '-crf', '23', '-pix_fmt', 'yuv420p',
  '-fps_mode', 'cfr', '-r', String(framesPerSecond), '-g', String(framesPerSecond * 10),
];

export interface Capture {
  /** Seconds into the capture at this instant. */
  now(): number;
  stop(): Promise<void>;
}

export async function startCapture(display: Display, file: string): Promise<Capture> {
  const ffmpeg = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-f', 'x11grab', '-draw_mouse', '0',
      '-framerate', String(framesPerSecond), '-video_size', `${screenWidth}x${screenHeight}`, '-i', `${display.name}.0`,
      ...videoEncoding, '-y', file],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let errors = '';
  ffmpeg.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const startedAt = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ffmpeg did not start capturing within 20 s ${errors}`)), 20_000);
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const reported = [...text.matchAll(/out_time_us=(\d+)/g)].map((match) => Number(match[1]));
      const latest = reported[reported.length - 1] ?? 0;
      if (latest > 0) {
        clearTimeout(timer);
        ffmpeg.stdout.off('data', onData);
        ffmpeg.stdout.resume();
        resolve(Date.now() - latest / 1000);
      }
    };
    ffmpeg.stdout.on('data', onData);
    ffmpeg.once('exit', (code) => reject(new Error(`ffmpeg exited with code ${code}: ${errors}`)));
  }).catch((error: Error) => {
    ffmpeg.kill('SIGKILL');
    throw error;
  });
  return {
    now: () => (Date.now() - startedAt) / 1000,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        if (ffmpeg.exitCode !== null || ffmpeg.signalCode !== null) return resolve();
        const timer = setTimeout(() => ffmpeg.kill('SIGKILL'), 30_000);
        ffmpeg.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`ffmpeg capture ended with code ${code}: ${errors}`));
        });
        ffmpeg.stdin.end('q');
      }),
  };
}
