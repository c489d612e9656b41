// The checks every command makes on a name field, with the plugin's messages.

import { stringField, validUtf8, type JsonObject } from '../json-fields.js';

const labels = {
  username: ['Invalid/missing username', 'Username not valid UTF-8'],
  groupname: ['Invalid/missing groupname', 'Group name not valid UTF-8'],
  rolename: ['Invalid/missing rolename', 'Role name not valid UTF-8'],
} as const;

/** The named field as a valid name, or the error to reply with. */
export function nameField(command: JsonObject, key: keyof typeof labels): { name: string } | { error: string } {
  const value = stringField(command, key);
  if (value === undefined || value === 'invalid') return { error: labels[key][0] };
  if (!validUtf8(value)) return { error: labels[key][1] };
  return { name: value };
}

/** The name field without the UTF-8 check (deleteClient does not make it). */
export function rawNameField(command: JsonObject, key: keyof typeof labels): { name: string } | { error: string } {
  const value = stringField(command, key);
  if (value === undefined || value === 'invalid') return { error: labels[key][0] };
  return { name: value };
}
