// setDefaultACLAccess and getDefaultACLAccess (plugin.c, Mosquitto 2.0): what is allowed when no
// role ACL matches. `$CONTROL` topics never fall through to the default (acl.c).

import { field, isObject } from '../json-fields.js';
import { defaultAccessTypes } from '../model.js';
import { fail, ok, type Command } from './context.js';

const setDefaultACLAccess: Command = (context, command) => {
  const actions = field(command, 'acls');
  if (!Array.isArray(actions)) return fail('Missing/invalid actions array');
  for (const action of actions) {
    if (!isObject(action)) continue;
    const typeName = field(action, 'acltype');
    const allow = field(action, 'allow');
    if (typeof typeName !== 'string' || typeof allow !== 'boolean') continue;
    const type = defaultAccessTypes.find((known) => known.toLowerCase() === typeName.toLowerCase());
    if (type !== undefined) context.state.defaultAccess[type] = allow;
    context.log(`setDefaultACLAccess | acltype=${typeName} | allow=${allow}`);
  }
  context.save();
  return ok;
};

const getDefaultACLAccess: Command = (context) => {
  context.log('getDefaultACLAccess');
  return { data: { acls: defaultAccessTypes.map((acltype) => ({ acltype, allow: context.state.defaultAccess[acltype] })) } };
};

export const defaultAccessCommands: Readonly<Record<string, Command>> = { setDefaultACLAccess, getDefaultACLAccess };
