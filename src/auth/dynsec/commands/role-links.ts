// The `roles` list that createClient, modifyClient, createGroup and modifyGroup accept
// (rolelist.c, dynsec_rolelist__load_from_json).

import { field, intField, isObject, type JsonObject } from '../json-fields.js';
import { addRoleLink, NO_PRIORITY, type DynsecState, type RoleLink } from '../model.js';

export type RoleLinksResult = { readonly links: RoleLink[] } | 'absent' | 'role not found' | 'invalid';

export function roleLinksFrom(state: DynsecState, command: JsonObject): RoleLinksResult {
  const list = field(command, 'roles');
  if (list === undefined) return 'absent';
  if (!Array.isArray(list)) return 'invalid';
  const links: RoleLink[] = [];
  for (const entry of list) {
    const rolename = isObject(entry) ? field(entry, 'rolename') : undefined;
    if (typeof rolename !== 'string') return 'invalid';
    if (!state.roles.has(rolename)) return 'role not found';
    addRoleLink(links, rolename, intField(entry as JsonObject, 'priority', NO_PRIORITY));
  }
  return { links };
}
