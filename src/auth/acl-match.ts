// Topic-filter relations the ACL file needs: does a filter match a topic (Mosquitto's
// mosquitto_topic_matches_sub), do two filters share a topic, does one filter cover another.
// Filters arrive split into levels; a leading "$" level is never matched by a wildcard [MQTT-4.7.2-1].

/** Whether filter (split on '/') matches topic (split on '/'). */
export function filterMatches(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]!.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true; // also matches the parent: "a/#" matches "a" [MQTT-4.7.1-2]
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

function dollarBlocked(a: readonly string[], b: readonly string[]): boolean {
  const wild = (level: string): boolean => level === '+' || level === '#';
  return (wild(a[0]!) && b[0]!.startsWith('$')) || (wild(b[0]!) && a[0]!.startsWith('$'));
}

/** Whether some topic is matched by both filters. */
export function filtersIntersect(a: readonly string[], b: readonly string[]): boolean {
  if (dollarBlocked(a, b)) return false;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return false;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  return true;
}

/** Whether every topic matched by inner is also matched by outer. */
export function filterCovers(outer: readonly string[], inner: readonly string[]): boolean {
  if ((outer[0] === '+' || outer[0] === '#') && inner[0]!.startsWith('$')) return false;
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i]!;
    if (o === '#') return true;
    const x = inner[i];
    if (x === undefined || x === '#') return false;
    if (o !== '+' && (x === '+' || x !== o)) return false;
  }
  return outer.length === inner.length;
}

/** mosquitto_sub_topic_check: '+' and '#' only as whole levels, '#' only last; why not, or undefined. */
export function aclFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty filter';
  if (Buffer.byteLength(filter) > 65535) return 'filter too long';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#' && i !== levels.length - 1) return "'#' must be the last level";
    if (level.length > 1 && (level.includes('+') || level.includes('#'))) return "'+' and '#' must occupy a whole level";
  }
  return undefined;
}

/** The topic filter of "$share/{group}/{filter}", or the filter itself. */
export function unshared(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const groupEnd = filter.indexOf('/', 7);
  return groupEnd < 0 ? filter : filter.slice(groupEnd + 1);
}
