// `culex ctrl dynsec COMMAND ARGS…` → one command of the dynamic-security API, with
// mosquitto_ctrl's argument order (mosquitto_ctrl dynsec help).

export type ControlCommand = { readonly [key: string]: string | number | boolean | readonly { readonly [key: string]: string | boolean }[] };

/** A command, or the usage error to print. */
export type Parsed = { readonly command: ControlCommand } | { readonly error: string };

const aclTypes = ['publishClientSend', 'publishClientReceive', 'subscribeLiteral', 'subscribePattern', 'unsubscribeLiteral', 'unsubscribePattern'];

function priority(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

function withPriority(command: { [key: string]: string | number | boolean }, text: string | undefined): Parsed {
  const value = priority(text);
  if (Number.isNaN(value)) return { error: `Invalid priority '${text}'.` };
  if (value !== undefined) command.priority = value;
  return { command };
}

function allowWord(word: string | undefined): boolean | undefined {
  return word === 'allow' ? true : word === 'deny' ? false : undefined;
}

function list(command: string, args: readonly string[]): Parsed {
  const out: { [key: string]: string | number | boolean } = { command, verbose: false };
  if (args[0] !== undefined) out.count = Number(args[0]);
  if (args[1] !== undefined) out.offset = Number(args[1]);
  if (Number.isNaN(out.count) || Number.isNaN(out.offset)) return { error: `${command}: count and offset must be numbers.` };
  return { command: out };
}

/** Parses the words after `dynsec`; `password` is filled in by the caller when a command needs one and none was given. */
export function parseDynsecCommand(name: string, args: readonly string[]): Parsed {
  const [a, b, c, d, e] = args;
  const need = (count: number, usage: string): string | undefined => (args.length < count ? `${name}: missing arguments. Usage: ${name} ${usage}` : undefined);
  let missing: string | undefined;
  switch (name) {
    case 'createClient': {
      if ((missing = need(1, '<username> [-c clientid] [-p password]'))) return { error: missing };
      const command: { [key: string]: string } = { command: name, username: a! };
      for (let i = 1; i < args.length; i += 2) {
        const value = args[i + 1];
        if (value === undefined) return { error: `${name}: ${args[i]} needs a value.` };
        if (args[i] === '-c') command.clientid = value;
        else if (args[i] === '-p') command.password = value;
        else return { error: `${name}: unknown option ${args[i]}.` };
      }
      return { command };
    }
    case 'deleteClient':
    case 'getClient':
    case 'enableClient':
    case 'disableClient':
      if ((missing = need(1, '<username>'))) return { error: missing };
      return { command: { command: name, username: a! } };
    case 'setClientPassword':
      // without a password on the command line it is asked for, as mosquitto_ctrl does
      if ((missing = need(1, '<username> [password]'))) return { error: missing };
      return { command: b === undefined ? { command: name, username: a! } : { command: name, username: a!, password: b } };
    case 'setClientId':
      if ((missing = need(1, '<username> [clientid]'))) return { error: missing };
      return { command: b === undefined ? { command: name, username: a! } : { command: name, username: a!, clientid: b } };
    case 'addClientRole':
      if ((missing = need(2, '<username> <rolename> [priority]'))) return { error: missing };
      return withPriority({ command: name, username: a!, rolename: b! }, c);
    case 'removeClientRole':
      if ((missing = need(2, '<username> <rolename>'))) return { error: missing };
      return { command: { command: name, username: a!, rolename: b! } };
    case 'listClients':
    case 'listGroups':
    case 'listRoles':
      return list(name, args);
    case 'createGroup':
    case 'deleteGroup':
    case 'getGroup':
    case 'setAnonymousGroup':
      if ((missing = need(1, '<groupname>'))) return { error: missing };
      return { command: { command: name, groupname: a! } };
    case 'addGroupRole':
      if ((missing = need(2, '<groupname> <rolename> [priority]'))) return { error: missing };
      return withPriority({ command: name, groupname: a!, rolename: b! }, c);
    case 'removeGroupRole':
      if ((missing = need(2, '<groupname> <rolename>'))) return { error: missing };
      return { command: { command: name, groupname: a!, rolename: b! } };
    case 'addGroupClient':
      if ((missing = need(2, '<groupname> <username> [priority]'))) return { error: missing };
      return withPriority({ command: name, groupname: a!, username: b! }, c);
    case 'removeGroupClient':
      if ((missing = need(2, '<groupname> <username>'))) return { error: missing };
      return { command: { command: name, groupname: a!, username: b! } };
    case 'createRole':
    case 'deleteRole':
    case 'getRole':
      if ((missing = need(1, '<rolename>'))) return { error: missing };
      return { command: { command: name, rolename: a! } };
    case 'addRoleACL': {
      if ((missing = need(4, '<rolename> <acltype> <topic> allow|deny [priority]'))) return { error: missing };
      const allow = allowWord(d);
      if (!aclTypes.includes(b!)) return { error: `${name}: unknown acltype '${b}'.` };
      if (allow === undefined) return { error: `${name}: the last word must be allow or deny.` };
      return withPriority({ command: name, rolename: a!, acltype: b!, topic: c!, allow }, e);
    }
    case 'removeRoleACL':
      if ((missing = need(3, '<rolename> <acltype> <topic>'))) return { error: missing };
      return { command: { command: name, rolename: a!, acltype: b!, topic: c! } };
    case 'getDefaultACLAccess':
    case 'getAnonymousGroup':
      return { command: { command: name } };
    case 'setDefaultACLAccess': {
      if ((missing = need(2, '<acltype> allow|deny'))) return { error: missing };
      const allow = allowWord(b);
      if (allow === undefined) return { error: `${name}: the last word must be allow or deny.` };
      return { command: { command: name, acls: [{ acltype: a!, allow }] } };
    }
    default:
      return { error: `Command '${name}' not recognised.` };
  }
}
