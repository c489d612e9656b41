// `--since 10m`, `--since 2026-12-01T10:00:00Z`: a relative duration back from now, or an instant.

const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds since 1970 for a duration ago ("90s", "10m", "2h", "7d") or a date; an error string otherwise. */
export function parseInstant(text: string, now = Date.now()): number | string {
  const relative = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (relative !== null) return now - Number(relative[1]) * units[relative[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  return `'${text}' is neither a duration (30s, 10m, 2h, 7d) nor a date (2026-12-01T10:00:00Z)`;
}
