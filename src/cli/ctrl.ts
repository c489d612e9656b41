// `culex ctrl`, like mosquitto_ctrl: `culex ctrl dynsec init FILE ADMIN_USER [ADMIN_PASSWORD]` makes
// a first dynamic-security file (same messages; without a password on the command line it is asked
// for twice, without echo), and `culex ctrl [-h host] [-p port] [-u user] [-P password] dynsec
// COMMAND …` sends one command to a running broker's $CONTROL/dynamic-security/v1 over MQTT.js and
// prints the answer.

import { existsSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { parseDynsecCommand, type ControlCommand } from './ctrl-commands.js';
import { saveDynsecFile } from '../auth/dynsec/file.js';
import { initialState } from '../auth/dynsec/init.js';
import { askPassword } from './passwd.js';

const usage = `Usage: culex ctrl dynsec init <new-config-file> <admin-username> [admin-password]
       culex ctrl [-h host] [-p port] [-u username] [-P password] [-i client-id] dynsec <command> [args]

init makes a dynamic-security file with an admin client that may use the $CONTROL/dynamic-security/v1
API; use it with 'plugin dynamic-security' and 'plugin_opt_config_file <file>' in the broker
configuration. The other commands are mosquitto_ctrl's, with its arguments (createClient <username>
[-c clientid] [-p password], addRoleACL <rolename> <acltype> <topic> allow|deny [priority], ...; see
docs/DYNSEC.md). Answers to get and list commands are printed as JSON.
`;

const RESPONSE_TIMEOUT_MS = 10_000;

interface Connection {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  clientId: string | undefined;
}

/** -h/-p/-u/-P/-i before the module name; returns the rest. */
function connectionOptions(argv: readonly string[]): { connection: Connection; rest: string[] } | { error: string } {
  const connection: Connection = { host: 'localhost', port: 1883, username: undefined, password: undefined, clientId: undefined };
  let i = 0;
  for (; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('-') || flag === '--help') break;
    const value = argv[i + 1];
    if (value === undefined) return { error: `Error: ${flag} argument given but no value specified.` };
    if (flag === '-h') connection.host = value;
    else if (flag === '-p') {
      connection.port = Number(value);
      if (!Number.isInteger(connection.port) || connection.port < 1 || connection.port > 65535) return { error: `Error: Invalid port given: ${value}` };
    } else if (flag === '-u') connection.username = value;
    else if (flag === '-P') connection.password = value;
    else if (flag === '-i') connection.clientId = value;
    else return { error: `Error: Unknown option '${flag}'.` };
    i++;
  }
  return { connection, rest: argv.slice(i) };
}

/** Sends one command and waits for its entry in the response document. */
async function send(connection: Connection, command: ControlCommand): Promise<number> {
  let client: MqttClient;
  try {
    client = await connectAsync({
      host: connection.host,
      port: connection.port,
      username: connection.username,
      password: connection.password,
      clientId: connection.clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: RESPONSE_TIMEOUT_MS,
    });
  } catch (error) {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  try {
    const correlationData = `culex-ctrl-${process.pid}-${Date.now()}`;
    const answer = new Promise<{ [key: string]: unknown } | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), RESPONSE_TIMEOUT_MS);
      client.on('message', (_topic, payload) => {
        let document: unknown;
        try {
          document = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        const responses = (document as { responses?: unknown }).responses;
        if (!Array.isArray(responses)) return;
        const mine = responses.find((entry) => (entry as { correlationData?: unknown }).correlationData === correlationData);
        if (mine === undefined) return;
        clearTimeout(timer);
        resolve(mine as { [key: string]: unknown });
      });
    });
    await client.subscribeAsync('$CONTROL/dynamic-security/v1/response', { qos: 1 });
    await client.publishAsync('$CONTROL/dynamic-security/v1', JSON.stringify({ commands: [{ ...command, correlationData }] }), { qos: 1 });
    const response = await answer;
    if (response === undefined) {
      process.stderr.write('Error: no answer from the broker (is dynamic security configured, and may this user use $CONTROL/dynamic-security/#?)\n');
      return 1;
    }
    if (typeof response.error === 'string') {
      process.stderr.write(`${String(command.command)}: Error: ${response.error}\n`);
      return 1;
    }
    if (response.data !== undefined) process.stdout.write(`${JSON.stringify(response.data, null, 2)}\n`);
    return 0;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

async function readPasswordIfMissing(command: ControlCommand): Promise<ControlCommand | undefined> {
  if (command.command !== 'setClientPassword' || command.password !== undefined) return command;
  try {
    return { ...command, password: await askPassword() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (message !== '') process.stderr.write(`${message}\n`);
    return undefined;
  }
}

async function init(args: readonly string[]): Promise<number> {
  const [file, user, given] = args;
  if (file === undefined || user === undefined || args.length > 3) {
    process.stderr.write('dynsec init: Not enough arguments - filename, or admin-user missing.\n');
    return 3;
  }
  if (existsSync(file)) {
    process.stderr.write(`dynsec init: '${file}' already exists. Remove the file or use a different location..\n`);
    return 1;
  }
  let password = given;
  if (password === undefined) {
    try {
      password = await askPassword();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== '') process.stderr.write(`${message}\n`);
      return 1;
    }
  }
  try {
    saveDynsecFile(file, initialState(user, password));
  } catch {
    process.stderr.write(`dynsec init: Unable to open '${file}' for writing.\n`);
    return 1;
  }
  process.stdout.write(
    `The client '${user}' has been created in the file '${file}'.\n` +
      'This client is configured to allow you to administer the dynamic security plugin only.\n' +
      'It does not have access to publish messages to normal topics.\n' +
      'You should create your application clients to do that, for example:\n' +
      '   mosquitto_ctrl <connect options> dynsec createClient <username>\n' +
      '   mosquitto_ctrl <connect options> dynsec createRole <rolename>\n' +
      '   mosquitto_ctrl <connect options> dynsec addRoleACL <rolename> publishClientSend my/topic [priority]\n' +
      '   mosquitto_ctrl <connect options> dynsec addClientRole <username> <rolename> [priority]\n',
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const options = connectionOptions(argv);
  if ('error' in options) {
    process.stderr.write(`${options.error}\n\n${usage}`);
    return 1;
  }
  const [module, command, ...rest] = options.rest;
  if (module === '--help' || module === undefined) {
    process.stdout.write(usage);
    return module === undefined ? 1 : 0;
  }
  if (module !== 'dynsec') {
    process.stderr.write(`culex ctrl: unknown module '${module}' (only 'dynsec' is supported)\n\n${usage}`);
    return 1;
  }
  if (command === 'init') return init(rest);
  if (command === undefined || command === 'help') {
    process.stdout.write(usage);
    return command === undefined ? 1 : 0;
  }
  const parsed = parseDynsecCommand(command, rest);
  if ('error' in parsed) {
    process.stderr.write(`${parsed.error}\n`);
    return 1;
  }
  const complete = await readPasswordIfMissing(parsed.command);
  return complete === undefined ? 1 : send(options.connection, complete);
}
