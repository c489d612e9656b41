// What a dynamic-security command sees: the state, and the effects it may ask for (save the file,
// disconnect the clients a change concerns, log). Each command returns its result; control.ts
// wraps results into the `responses` array with the command's name and correlation data.

import type { Json } from '../json-fields.js';
import type { DynsecState } from '../model.js';

export type { Json };

export interface CommandContext {
  readonly state: DynsecState;
  /** "clientid/username" of the administrator, for the log lines. */
  readonly admin: string;
  /** Writes the file (after every change, as the plugin does). */
  save(): void;
  /** Disconnects the clients connected with this username (DISCONNECT 0x98 for v5), without their wills. */
  kick(username: string): void;
  /** Disconnects the clients connected without a username. */
  kickAnonymous(): void;
  log(message: string): void;
}

/** A command's result: an error string, data to return, or plain success. */
export type CommandResult = { readonly error: string } | { readonly data: Json } | Record<string, never>;

export const ok: CommandResult = {};
export const fail = (error: string): CommandResult => ({ error });

export type Command = (context: CommandContext, command: { readonly [key: string]: unknown }) => CommandResult;

/** The list-command window: `count` (−1 = all) entries from `offset`, with the plugin's loop. */
export function page<T>(items: readonly T[], count: number, offset: number): T[] {
  const out: T[] = [];
  let remaining = count;
  for (let i = 0; i < items.length; i++) {
    if (i < offset) continue;
    out.push(items[i]!);
    if (remaining >= 0) {
      remaining--;
      if (remaining <= 0) break;
    }
  }
  return out;
}
