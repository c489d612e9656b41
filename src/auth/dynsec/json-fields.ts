// Reading fields of the plugin's JSON the way its cJSON code does: object keys are matched without
// regard to case (cJSON_GetObjectItem), a present field of the wrong type is an error, an absent
// optional one takes its default; numbers are truncated to C ints.

export type JsonObject = { readonly [key: string]: unknown };

/** JSON the plugin writes (responses, the file). */
export type Json = string | number | boolean | Json[] | { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first key equal to name ignoring case, as cJSON_GetObjectItem. */
export function field(object: JsonObject, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === lower) return object[key];
  return undefined;
}

/** 'invalid' when present but not a string; undefined when absent. */
export function stringField(object: JsonObject, name: string): string | undefined | 'invalid' {
  const value = field(object, name);
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : 'invalid';
}

/** A required string: the value, or undefined when missing or not a string. */
export function requiredString(object: JsonObject, name: string): string | undefined {
  const value = field(object, name);
  return typeof value === 'string' ? value : undefined;
}

/** cJSON's valueint: the double truncated and saturated to a 32-bit int. */
function cInt(value: number): number {
  if (Number.isNaN(value)) return 0;
  if (value >= 2147483647) return 2147483647;
  if (value <= -2147483648) return -2147483648;
  return Math.trunc(value);
}

/** json_get_int with a default: a missing or non-number field gives the default. */
export function intField(object: JsonObject, name: string, fallback: number): number {
  const value = field(object, name);
  return typeof value === 'number' ? cInt(value) : fallback;
}

export function boolField(object: JsonObject, name: string, fallback: boolean): boolean {
  const value = field(object, name);
  return typeof value === 'boolean' ? value : fallback;
}

/** mosquitto_validate_utf8 on a decoded string: no lone surrogates, no U+0000, no control characters. */
export function validUtf8(text: string): boolean {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f\u007f-\u009f]/.test(text);
}
