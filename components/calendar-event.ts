/**
 * Proxmox's calendar events (vzdump and PBS schedules, `pve-calendar-event`): a parser for the
 * grammar PVE implements in its `proxmox-time` crate, so a schedule Proxmox would refuse is
 * refused before anything is applied. The grammar, as PVE documents it:
 *
 *     [WEEKDAY] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]
 *
 * - at least one of the three parts; a missing weekday or date means every one, a missing time
 *   means 00:00; a time of one component is minutes (`*\/15`: every quarter hour, PVE's default);
 * - weekdays `mon`..`sun`, as a list (`mon,wed`) or range (`mon..fri`);
 * - each date and time component is `*`, a value, a range (`1..5`), a repetition (`*\/15`,
 *   `0/20`, `8..18/2`) or a comma list of these; values within their bounds (hours 0–23,
 *   minutes and seconds 0–59, months 1–12, days 1–31, years 1970–9999);
 * - the words minutely, hourly, daily, weekly, monthly, yearly, annually, quarterly,
 *   semiannually and semi-annually.
 * Cron lines (`30 2 * * *`) and prose (`every night`) are not calendar events.
 */

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const WORDS = new Set(['minutely', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'annually', 'quarterly', 'semiannually', 'semi-annually']);
/** PVE's maxLength for the schedule format. */
export const CALENDAR_EVENT_MAX_LENGTH = 128;

interface Bounds {
  readonly what: string;
  readonly min: number;
  readonly max: number;
}
const HOURS: Bounds = { what: 'hour', min: 0, max: 23 };
const MINUTES: Bounds = { what: 'minute', min: 0, max: 59 };
const SECONDS: Bounds = { what: 'second', min: 0, max: 59 };
const YEARS: Bounds = { what: 'year', min: 1970, max: 9999 };
const MONTHS: Bounds = { what: 'month', min: 1, max: 12 };
const DAYS: Bounds = { what: 'day', min: 1, max: 31 };

/** Why one component is wrong, or undefined: `*`, `5`, `1..5`, `*\/15`, `0/20`, `8..18/2`, and lists of these. */
function componentProblem(text: string, bounds: Bounds): string | undefined {
  if (text === '') return `an empty ${bounds.what}`;
  for (const item of text.split(',')) {
    const match = /^(\*|\d{1,4})(?:\.\.(\d{1,4}))?(?:\/(\d{1,4}))?$/.exec(item);
    if (!match) return `"${item}" is not a ${bounds.what}, range or repetition`;
    const [, start, end, repetition] = match;
    if (start === '*' && end !== undefined) return `"${item}": a range starts with a number`;
    for (const value of [start, end]) {
      if (value === undefined || value === '*') continue;
      const number = Number(value);
      if (number < bounds.min || number > bounds.max) return `${bounds.what} ${number} is outside ${bounds.min}..${bounds.max}`;
    }
    if (end !== undefined && Number(end) < Number(start)) return `"${item}": the range ends before it starts`;
    if (repetition !== undefined && Number(repetition) === 0) return `"${item}": a repetition of 0`;
  }
  return undefined;
}

function weekdayProblem(text: string): string | undefined {
  for (const item of text.split(',')) {
    const [from, to, ...rest] = item.split('..');
    if (rest.length > 0 || !WEEKDAYS.includes(from as never) || (to !== undefined && !WEEKDAYS.includes(to as never))) {
      return `"${item}" is not a weekday (mon, tue, wed, thu, fri, sat, sun) or a range of them`;
    }
  }
  return undefined;
}

/** Why `text` is not a Proxmox calendar event, or undefined when it is one. */
export function calendarEventProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'not a string';
  if (text.length > CALENDAR_EVENT_MAX_LENGTH) return `longer than ${CALENDAR_EVENT_MAX_LENGTH} characters`;
  const trimmed = text.trim();
  if (trimmed === '') return 'empty';
  if (WORDS.has(trimmed)) return undefined;
  const words = trimmed.split(/\s+/);
  let index = 0;
  if (/^[a-z]/.test(words[0]!)) {
    const problem = weekdayProblem(words[0]!);
    if (problem) return problem;
    index += 1;
  }
  if (index < words.length && words[index]!.includes('-')) {
    const parts = words[index]!.split('-');
    if (parts.length > 3 || parts.length < 2) return `"${words[index]}" is not a date ([YEARS-]MONTHS-DAYS)`;
    const bounds = parts.length === 3 ? [YEARS, MONTHS, DAYS] : [MONTHS, DAYS];
    for (const [position, part] of parts.entries()) {
      const problem = componentProblem(part, bounds[position]!);
      if (problem) return `date "${words[index]}": ${problem}`;
    }
    index += 1;
  }
  if (index < words.length) {
    const parts = words[index]!.split(':');
    if (parts.length > 3) return `"${words[index]}" is not a time (HOURS:MINUTES[:SECONDS])`;
    const bounds = parts.length === 1 ? [MINUTES] : [HOURS, MINUTES, SECONDS];
    for (const [position, part] of parts.entries()) {
      const problem = componentProblem(part, bounds[position]!);
      if (problem) return `time "${words[index]}": ${problem}`;
    }
    index += 1;
  }
  if (index === 0) return `"${words[0]}" is neither a weekday, a date nor a time`;
  if (index < words.length) return `unexpected "${words.slice(index).join(' ')}" after the ${index === 1 ? 'first part' : 'time'}${words.length >= 5 ? ' (a cron line is not a calendar event)' : ''}`;
  return undefined;
}

/** The message a rule shows for a schedule Proxmox would refuse. */
export function calendarEventMessage(text: unknown, problem: string): string {
  return `expected a Proxmox calendar event such as "*-*-* 02:30", "mon..fri 02:00" or "sun 03:00" (${problem}), got ${typeof text === 'string' ? JSON.stringify(text) : String(text)}`;
}
