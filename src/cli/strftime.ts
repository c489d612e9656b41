// A C-locale strftime for the sub client's `@X` format escapes, `%I` and the JSON `tst` field,
// so `culex sub -F '@Y-@m-@d'` prints what `mosquitto_sub` prints. Local time, as glibc uses.

const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const months = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

function pad(value: number, width: number, fill = '0'): string {
  const text = String(Math.abs(value));
  const sign = value < 0 ? '-' : '';
  return sign + text.padStart(width, fill);
}

function dayOfYear(date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1);
  const utcNow = Date.UTC(date.getFullYear(), date.getMonth(), date.getDate());
  const utcStart = Date.UTC(start.getFullYear(), 0, 1);
  return Math.round((utcNow - utcStart) / 86_400_000); // 0-based, like tm_yday
}

/** ISO 8601 week-based year and week number (%G, %V). */
function isoWeek(date: Date): { year: number; week: number } {
  const day = new Date(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  return { year: day.getUTCFullYear(), week: Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7) };
}

/** `+hhmm` / `-hhmm` east of UTC, as %z prints. */
export function utcOffset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60), 2)}${pad(abs % 60, 2)}`;
}

function zoneName(date: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(date)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

function hour12(date: Date): number {
  return date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
}

/** Expands one conversion character; unknown ones are printed as written, like glibc. */
export function strftimeConversion(conversion: string, date: Date): string {
  const yday = dayOfYear(date);
  const wday = date.getDay();
  switch (conversion) {
    case 'a': return weekdays[wday]!.slice(0, 3);
    case 'A': return weekdays[wday]!;
    case 'b': case 'h': return months[date.getMonth()]!.slice(0, 3);
    case 'B': return months[date.getMonth()]!;
    case 'c': return `${strftime('%a %b %e %H:%M:%S %Y', date)}`;
    case 'C': return pad(Math.floor(date.getFullYear() / 100), 2);
    case 'd': return pad(date.getDate(), 2);
    case 'D': return strftime('%m/%d/%y', date);
    case 'e': return pad(date.getDate(), 2, ' ');
    case 'F': return strftime('%Y-%m-%d', date);
    case 'g': return pad(isoWeek(date).year % 100, 2);
    case 'G': return String(isoWeek(date).year);
    case 'H': return pad(date.getHours(), 2);
    case 'I': return pad(hour12(date), 2);
    case 'j': return pad(yday + 1, 3);
    case 'k': return pad(date.getHours(), 2, ' ');
    case 'l': return pad(hour12(date), 2, ' ');
    case 'm': return pad(date.getMonth() + 1, 2);
    case 'M': return pad(date.getMinutes(), 2);
    case 'n': return '\n';
    case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
    case 'P': return date.getHours() < 12 ? 'am' : 'pm';
    case 'r': return strftime('%I:%M:%S %p', date);
    case 'R': return strftime('%H:%M', date);
    case 's': return String(Math.floor(date.getTime() / 1000));
    case 'S': return pad(date.getSeconds(), 2);
    case 't': return '\t';
    case 'T': return strftime('%H:%M:%S', date);
    case 'u': return String(wday === 0 ? 7 : wday);
    case 'U': return pad(Math.floor((yday + 7 - wday) / 7), 2);
    case 'V': return pad(isoWeek(date).week, 2);
    case 'w': return String(wday);
    case 'W': return pad(Math.floor((yday + 7 - ((wday + 6) % 7)) / 7), 2);
    case 'x': return strftime('%m/%d/%y', date);
    case 'X': return strftime('%H:%M:%S', date);
    case 'y': return pad(date.getFullYear() % 100, 2);
    case 'Y': return String(date.getFullYear());
    case 'z': return utcOffset(date);
    case 'Z': return zoneName(date);
    case '%': return '%';
    default: return `%${conversion}`;
  }
}

/** strftime(3) in the C locale, for the conversions glibc documents. */
export function strftime(format: string, date: Date): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch !== '%' || i === format.length - 1) {
      out += ch;
      continue;
    }
    i++;
    out += strftimeConversion(format[i]!, date);
  }
  return out;
}
