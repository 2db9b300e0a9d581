/**
 * The text form the shipped calendars are committed in: compact (about 3 KB for 36 years) and
 * readable in a diff, because most years differ from "every weekday" by a dozen holidays.
 *
 * ```
 * name XSHG
 * timezone Asia/Shanghai
 * first 1990-12-19
 * last 2026-12-31
 * rule 1990-12-19 09:30-11:30 13:00-15:00
 * exception 2030-12-31 09:30-11:30
 * 1990
 * 2024 0101 0209 0212 0213 0214 0215 0216 0404 0405 0501 ...
 * ```
 *
 * The trading days are the weekdays from `first` to `last`, except those a year's line lists
 * (`MMDD`, a weekday the exchange was closed), plus those it lists as `+MMDD` (a Saturday or
 * Sunday it traded). Every year from `first` to `last` has a line, even an empty one, so a
 * missing year is an error rather than a year of weekdays. `rule` and `exception` lines are the
 * CalendarData's rules and exceptions, sessions written as calendar files write them.
 */
import { ValidationError } from "../errors.ts";
import { formatSessions, isDate, parseSessions, type CalendarData, type Session } from "../calendar.ts";

/** The CalendarData as committed text (ends with a newline). */
export function encodeCalendar(data: CalendarData): string {
  const first = data.days[0];
  const last = data.days[data.days.length - 1];
  if (first === undefined || last === undefined) throw new ValidationError([{ message: `calendar ${data.name} has no days` }]);
  const trading = new Set(data.days);
  const lines = [`name ${data.name}`, `timezone ${data.timezone}`, `first ${first}`, `last ${last}`];
  for (const rule of data.rules) lines.push(`rule ${rule.from} ${formatSessions(rule.sessions)}`);
  for (const [day, sessions] of Object.entries(data.exceptions ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`exception ${day} ${formatSessions(sessions)}`);
  }
  for (let year = Number(first.slice(0, 4)); year <= Number(last.slice(0, 4)); year++) {
    const marks = [String(year)];
    forEachDay(year, first, last, (month, date, weekend) => {
      const day = `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[date]}`;
      if (weekend === trading.has(day)) marks.push(`${weekend ? "+" : ""}${TWO_DIGITS[month]}${TWO_DIGITS[date]}`);
    });
    lines.push(marks.join(" "));
  }
  return `${lines.join("\n")}\n`;
}

/** The committed text back as CalendarData. Throws a ValidationError naming the line on bad text. */
export function decodeCalendar(text: string): CalendarData {
  const fields: Record<string, string> = {};
  const rules: { from: string; sessions: Session[] }[] = [];
  const exceptions: Record<string, Session[]> = {};
  const years = new Map<number, string[]>();
  text.split("\n").forEach((line, index) => {
    const [key, ...rest] = line.trim().split(/\s+/);
    const fail = (message: string) => new ValidationError([{ row: index + 1, message }], `calendar text line ${index + 1}: ${message}`);
    if (!key) return;
    if (/^\d{4}$/.test(key)) {
      if (years.has(Number(key))) throw fail(`year ${key} is repeated`);
      const bad = rest.find((mark) => !MARK.test(mark));
      if (bad !== undefined) throw fail(`"${bad}" is not a day (MMDD, or +MMDD for a weekend day that traded)`);
      years.set(Number(key), rest);
    } else if (key === "rule" || key === "exception") {
      const [day, ...sessions] = rest;
      if (!day || !isDate(day)) throw fail(`"${day}" is not a YYYY-MM-DD date`);
      if (key === "rule") rules.push({ from: day, sessions: parseSessions(sessions.join(" ")) });
      else exceptions[day] = parseSessions(sessions.join(" "));
    } else if (key === "name" || key === "timezone" || key === "first" || key === "last") {
      if (rest.length !== 1) throw fail(`${key} takes one value`);
      fields[key] = rest[0]!;
    } else {
      throw fail(`unknown line "${line}"`);
    }
  });
  const { name, timezone, first, last } = fields;
  if (!name || !timezone || !first || !last || !isDate(first) || !isDate(last)) {
    throw new ValidationError([{ message: "calendar text needs name, timezone, first and last (YYYY-MM-DD)" }]);
  }
  const days: string[] = [];
  for (let year = Number(first.slice(0, 4)); year <= Number(last.slice(0, 4)); year++) {
    const marks = years.get(year);
    if (!marks) throw new ValidationError([{ message: `calendar ${name} has no line for ${year}` }]);
    // Marks as numbers (month * 100 + date, negative for a traded weekend day): no string per
    // day is built until the day is known to trade, which keeps decoding near a millisecond.
    const listed = new Set(marks.map((mark) => (mark.startsWith("+") ? -Number(mark.slice(1)) : Number(mark))));
    const prefix = String(year);
    forEachDay(year, first, last, (month, date, weekend) => {
      const key = month * 100 + date;
      if (listed.has(weekend ? -key : key) === weekend) days.push(prefix + MONTH_DAY[key]);
    });
  }
  return Object.keys(exceptions).length > 0 ? { name, timezone, days, rules, exceptions } : { name, timezone, days, rules };
}

const MARK = /^\+?(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;
const TWO_DIGITS = Array.from({ length: 32 }, (_, i) => String(i).padStart(2, "0"));
/** "-MM-DD" by month * 100 + date, built once so decoding makes one string a trading day. */
const MONTH_DAY: string[] = [];
for (let month = 1; month <= 12; month++) {
  for (let date = 1; date <= 31; date++) MONTH_DAY[month * 100 + date] = `-${TWO_DIGITS[month]}-${TWO_DIGITS[date]}`;
}

/** Calls `visit` for each day of `year` within [first, last] (YYYY-MM-DD), saying whether it is a Saturday or Sunday. */
function forEachDay(year: number, first: string, last: string, visit: (month: number, date: number, weekend: boolean) => void): void {
  const from = first.startsWith(`${year}-`) ? Number(first.slice(5, 7)) * 100 + Number(first.slice(8)) : 0;
  const to = last.startsWith(`${year}-`) ? Number(last.slice(5, 7)) * 100 + Number(last.slice(8)) : 1300;
  let weekday = new Date(Date.UTC(year, 0, 1)).getUTCDay();
  for (let month = 1; month <= 12; month++) {
    const length = new Date(Date.UTC(year, month, 0)).getUTCDate();
    for (let date = 1; date <= length; date++, weekday = (weekday + 1) % 7) {
      const key = month * 100 + date;
      if (key >= from && key <= to) visit(month, date, weekday === 0 || weekday === 6);
    }
  }
}
