// Readings as CSV (RFC 4180): one header line, then one line per reading, with the time both as
// milliseconds and as ISO 8601 for spreadsheets.

import type { StoredReading } from './reading-store.js';

export const csvHeader = 'sensor,seq,ts,time,value,unit';

function field(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(reading: StoredReading): string {
  return [field(reading.sensor), reading.seq, reading.ts, new Date(reading.ts).toISOString(), reading.value, field(reading.unit)].join(',');
}
