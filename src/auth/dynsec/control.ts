// The `$CONTROL/dynamic-security/v1` API: one message carries {"commands": [...]}, each command is
// run in order and answers with one entry of {"responses": [...]}, published on
// `$CONTROL/dynamic-security/v1/response` (plugin.c, dynsec__handle_control, Mosquitto 2.0).

import { field, isObject, stringField } from './json-fields.js';
import { clientCommands } from './commands/clients.js';
import type { Command, CommandContext, Json } from './commands/context.js';
import { defaultAccessCommands } from './commands/default-access.js';
import { groupCommands } from './commands/groups.js';
import { roleCommands } from './commands/roles.js';

export const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';
export const RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';

const commands: ReadonlyMap<string, { readonly name: string; readonly run: Command }> = new Map(
  Object.entries({ ...defaultAccessCommands, ...clientCommands, ...groupCommands, ...roleCommands }).map(([name, run]) => [name.toLowerCase(), { name, run }]),
);

type Response = { [key: string]: Json };

function reply(command: string, error: string | undefined, correlationData: string | undefined): Response {
  const response: Response = { command };
  if (error !== undefined) response.error = error;
  if (correlationData !== undefined) response.correlationData = correlationData;
  return response;
}

/** Runs every command of one control message; returns the response document. */
export function runControlMessage(context: CommandContext, payload: Buffer): { responses: Response[] } {
  const responses: Response[] = [];
  let tree: unknown;
  try {
    tree = JSON.parse(payload.toString('utf8'));
  } catch {
    return { responses: [reply('Unknown command', 'Payload not valid JSON', undefined)] };
  }
  const list = isObject(tree) ? field(tree, 'commands') : undefined;
  if (!Array.isArray(list)) return { responses: [reply('Unknown command', 'Invalid/missing commands', undefined)] };

  // As the plugin: the correlation data of the last command read is reused by a following
  // command that is not an object or has no name.
  let correlationData: string | undefined;
  for (const entry of list) {
    if (!isObject(entry)) {
      responses.push(reply('Unknown command', 'Command not an object', correlationData));
      continue;
    }
    const name = stringField(entry, 'command');
    if (name === undefined || name === 'invalid') {
      responses.push(reply('Unknown command', 'Missing command', correlationData));
      continue;
    }
    const correlation = stringField(entry, 'correlationData');
    if (correlation === 'invalid') {
      // the plugin stops reading the batch here
      responses.push(reply(name, 'Invalid correlationData data type.', undefined));
      break;
    }
    correlationData = correlation;
    const command = commands.get(name.toLowerCase());
    if (command === undefined) {
      responses.push(reply(name, 'Unknown command', correlationData));
      continue;
    }
    const result = command.run(context, entry);
    if ('data' in result) {
      const response: Response = { command: command.name, data: result.data };
      if (correlationData !== undefined) response.correlationData = correlationData;
      responses.push(response);
    } else {
      responses.push(reply(command.name, 'error' in result ? result.error : undefined, correlationData));
    }
  }
  return { responses };
}
