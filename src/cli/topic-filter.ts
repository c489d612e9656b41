// Topic names and filters as the command-line clients check and match them (MQTT 5.0 §4.7).

/** Publish topics may not hold wildcards [MQTT-3.3.2-2]. */
export function isValidPublishTopic(topic: string): boolean {
  return !/[+#]/.test(topic) && Buffer.byteLength(topic) <= 65535;
}

/** '+' fills a whole level; '#' fills the last one [MQTT-4.7.1-2, -3]. */
export function isValidTopicFilter(filter: string): boolean {
  const levels = filter.split('/');
  return Buffer.byteLength(filter) <= 65535 && levels.every((level, i) =>
    (!level.includes('+') || level === '+') && (!level.includes('#') || (level === '#' && i === levels.length - 1)));
}

/** Whether `topic` matches `filter`; wildcards at the start never match `$` topics [MQTT-4.7.2-1]. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true; // also matches the parent level [MQTT-4.7.1-2]
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
