// `culex ctrl dynsec init FILE ADMIN_USER [ADMIN_PASSWORD]`: a first dynamic-security file, as
// `mosquitto_ctrl dynsec init` makes it (same messages). Without a password on the command line it
// is asked for twice, without echo. The other dynsec commands are sent with Debian's mosquitto_ctrl.

import { existsSync } from 'node:fs';
import { saveDynsecFile } from '../auth/dynsec/file.js';
import { initialState } from '../auth/dynsec/init.js';
import { askPassword } from './passwd.js';

const usage = `Usage: culex ctrl dynsec init <new-config-file> <admin-username> [admin-password]

Makes a dynamic-security file with an admin client that may use the $CONTROL/dynamic-security/v1 API.
Use it with 'plugin dynamic-security' and 'plugin_opt_config_file <file>' in the broker configuration,
then manage clients, groups and roles with mosquitto_ctrl (see docs/DYNSEC.md).
`;

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
  const [module, command, ...rest] = argv;
  if (module === '--help' || module === '-h' || module === undefined) {
    process.stdout.write(usage);
    return module === undefined ? 1 : 0;
  }
  if (module !== 'dynsec') {
    process.stderr.write(`culex ctrl: unknown module '${module}' (only 'dynsec' is supported)\n\n${usage}`);
    return 1;
  }
  if (command === 'init') return init(rest);
  process.stderr.write(`culex ctrl dynsec: '${command ?? ''}' is not supported; culex ctrl makes the first file (init), send the other commands with mosquitto_ctrl.\n\n${usage}`);
  return 1;
}
