// A small parser for the fleet commands' long options (`--name value`, `--flag`), typed by a spec:
// unknown options and bad values come back as an error string for the usage message.

export interface FlagSpec {
  readonly kind: 'string' | 'integer' | 'number' | 'boolean';
  /** A one-letter alias, e.g. '-u'. */
  readonly short?: string;
  readonly min?: number;
  readonly max?: number;
}

type FlagValue<S extends FlagSpec> = S['kind'] extends 'string' ? string : S['kind'] extends 'boolean' ? boolean : number;
export type Flags<T extends Record<string, FlagSpec>> = { -readonly [K in keyof T]?: FlagValue<T[K]> };

export interface Parsed<T extends Record<string, FlagSpec>> {
  readonly flags: Flags<T>;
  readonly positional: string[];
}

export function parseFlags<T extends Record<string, FlagSpec>>(argv: readonly string[], specs: T): Parsed<T> | string {
  const flags: Record<string, string | number | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const name = Object.keys(specs).find((key) => `--${key}` === flag || specs[key]!.short === flag);
    if (name === undefined) return `unknown option '${flag}'`;
    const spec = specs[name]!;
    if (spec.kind === 'boolean') {
      flags[name] = true;
      continue;
    }
    const text = inline ?? argv[++i];
    if (text === undefined) return `${flag} needs a value`;
    if (spec.kind === 'string') {
      flags[name] = text;
      continue;
    }
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) return `${flag}: '${text}' is not ${spec.kind === 'integer' ? 'an integer' : 'a number'}`;
    if (spec.min !== undefined && value < spec.min) return `${flag}: ${text} is below ${spec.min}`;
    if (spec.max !== undefined && value > spec.max) return `${flag}: ${text} is above ${spec.max}`;
    flags[name] = value;
  }
  return { flags: flags as Flags<T>, positional };
}

/** Runs `stop` once on SIGINT or SIGTERM and resolves with it; the command then exits 0. */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      stop().then(resolve, reject);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
