/**
 * Exchange calendars as data: the trading days of a market and the sessions of each day, in the
 * market's zone. Session rules (bucket alignment, completeness) are functions over this data,
 * written once here so every backend answers the same.
 *
 * A session is a half-open span of local wall-clock minutes [open, close) after local midnight:
 * A-shares trade 09:30-11:30 and 13:00-15:00 Asia/Shanghai, `{ open: 570, close: 690 }` and
 * `{ open: 780, close: 900 }`. Sessions that changed carry an effective date (a rule applies
 * from its `from` day until the next rule); a single day with other hours (a half day) is an
 * exception.
 */
import { ValidationError, type Issue } from "./errors.ts";
import { assertTimeZone, DAY_MS, formatIsoLocal, MAX_TIMESTAMP, MIN_TIMESTAMP, MINUTE_MS, offsetSpanAt, wallTimeToUtc } from "./time.ts";

/** Local minutes after midnight, [open, close). */
export interface Session {
  readonly open: number;
  readonly close: number;
}

export interface SessionRule {
  /** The first day (YYYY-MM-DD) the rule applies to. */
  readonly from: string;
  readonly sessions: readonly Session[];
}

/** A calendar as stored and shipped. */
export interface CalendarData {
  /** `XSHG`, `XSHE`, `US-EQ`: letters, digits, `_` and `-`, starting with a letter. */
  readonly name: string;
  /** The IANA zone the sessions' wall-clock times are in. */
  readonly timezone: string;
  /** Every trading day, YYYY-MM-DD, ascending, no repeats. */
  readonly days: readonly string[];
  /** Session rules by effective date, ascending; the first applies from the first day on. */
  readonly rules: readonly SessionRule[];
  /** Days whose sessions differ from their rule (half days). Each must be a trading day. */
  readonly exceptions?: Readonly<Record<string, readonly Session[]>>;
}

/** A session on one trading day as UTC instants: [open, close). */
export interface SessionSpan {
  readonly open: number;
  readonly close: number;
}

export const CALENDAR_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CLOCK = /^(\d{2}):(\d{2})$/;

/** "09:30" as minutes after midnight; "24:00" is the end of the day. Throws on anything else. */
export function parseClock(text: string): number {
  const m = CLOCK.exec(text);
  if (!m) throw new ValidationError([{ message: `"${text}" is not a time of day (HH:MM)` }]);
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || minutes > 24 * 60) {
    throw new ValidationError([{ message: `"${text}" is outside 00:00-24:00` }]);
  }
  return minutes;
}

/** Minutes after midnight as "HH:MM". */
export function formatClock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** "09:30-11:30 13:00-15:00" as sessions (the form calendar files and the CLI use). */
export function parseSessions(text: string): Session[] {
  return text.trim().split(/\s+/).filter(Boolean).map((span) => {
    const [open, close, ...rest] = span.split("-");
    if (open === undefined || close === undefined || rest.length > 0) {
      throw new ValidationError([{ message: `"${span}" is not a session (HH:MM-HH:MM)` }]);
    }
    return { open: parseClock(open), close: parseClock(close) };
  });
}

export function formatSessions(sessions: readonly Session[]): string {
  return sessions.map((s) => `${formatClock(s.open)}-${formatClock(s.close)}`).join(" ");
}

/** True when `text` is a real YYYY-MM-DD date (2023-02-29 is not). */
export function isDate(text: string): boolean {
  return DATE.test(text) && isoDate(dateWallMs(text)) === text;
}

/** A UTC midnight as YYYY-MM-DD (the wall clock of a date written as if UTC). */
export function isoDate(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(0, 10);
}

/** YYYY-MM-DD as the wall-clock ms of its midnight (as if UTC). */
export function dateWallMs(date: string): number {
  const m = DATE.exec(date)!;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.getTime();
}

/**
 * The local calendar date (YYYY-MM-DD) of instant `utcMs` in `timeZone`. The open ends of a range
 * (years 0001 and 9999) stay inside those years in any zone.
 */
export function localDate(utcMs: number, timeZone: string): string {
  const wall = Math.min(Math.max(utcMs + offsetSpanAt(timeZone, utcMs).offset, MIN_TIMESTAMP), MAX_TIMESTAMP);
  return isoDate(Math.floor(wall / DAY_MS) * DAY_MS);
}

/** Instant `utcMs` as the wall clock in `timeZone`, "YYYY-MM-DD HH:MM" (how gaps are listed). */
export function wallClock(utcMs: number, timeZone: string): string {
  return formatIsoLocal(utcMs, timeZone).slice(0, 16).replace("T", " ");
}

/** Checks sessions: inside 00:00-24:00, each non-empty, ascending and not overlapping. */
export function sessionProblems(sessions: readonly Session[]): string[] {
  const problems: string[] = [];
  if (sessions.length === 0) problems.push("a trading day needs at least one session");
  let previousClose = -1;
  for (const s of sessions) {
    const shown = `${formatClock(s.open)}-${formatClock(s.close)}`;
    if (!Number.isInteger(s.open) || !Number.isInteger(s.close) || s.open < 0 || s.close > 24 * 60) {
      problems.push(`session ${shown} is outside 00:00-24:00`);
    } else if (s.open >= s.close) {
      problems.push(`session ${shown} ends before it starts`);
    } else if (s.open < previousClose) {
      problems.push(`session ${shown} overlaps the one before it`);
    }
    previousClose = Math.max(previousClose, s.close);
  }
  return problems;
}

/**
 * A calendar ready for lookups. Construction checks the data (a ValidationError lists every
 * problem); lookups then cost a binary search or a map read.
 */
export class Calendar {
  readonly name: string;
  readonly timezone: string;
  readonly days: readonly string[];
  readonly rules: readonly SessionRule[];
  readonly exceptions: Readonly<Record<string, readonly Session[]>>;
  readonly #index = new Map<string, number>();
  readonly #spans = new Map<string, readonly SessionSpan[]>();

  constructor(data: CalendarData) {
    const issues: Issue[] = [];
    if (!CALENDAR_NAME.test(data.name)) {
      issues.push({ field: "name", message: `"${data.name}" is not a calendar name (letters, digits, _ and -, starting with a letter)` });
    }
    try {
      assertTimeZone(data.timezone);
    } catch {
      issues.push({ field: "timezone", message: `unknown time zone "${data.timezone}"` });
    }
    data.days.forEach((day, i) => {
      if (!isDate(day)) issues.push({ row: i, field: "date", message: `"${day}" is not a YYYY-MM-DD date` });
      else if (i > 0 && day <= data.days[i - 1]!) {
        issues.push({ row: i, field: "date", message: day === data.days[i - 1] ? `${day} is repeated` : `${day} is out of order` });
      }
      this.#index.set(day, i);
    });
    if (data.rules.length === 0) issues.push({ field: "rules", message: "a calendar needs at least one session rule" });
    data.rules.forEach((rule, i) => {
      if (!isDate(rule.from)) issues.push({ field: `rules.${i}.from`, message: `"${rule.from}" is not a YYYY-MM-DD date` });
      else if (i > 0 && rule.from <= data.rules[i - 1]!.from) issues.push({ field: `rules.${i}.from`, message: "rules must be in ascending order of their dates" });
      for (const problem of sessionProblems(rule.sessions)) issues.push({ field: `rules.${i}`, message: problem });
    });
    for (const [day, sessions] of Object.entries(data.exceptions ?? {})) {
      if (!this.#index.has(day)) issues.push({ field: `exceptions.${day}`, message: `${day} is not a trading day of the calendar` });
      for (const problem of sessionProblems(sessions)) issues.push({ field: `exceptions.${day}`, message: problem });
    }
    if (issues.length > 0) throw new ValidationError(issues, `calendar ${data.name}: ${issues[0]!.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`);
    this.name = data.name;
    this.timezone = data.timezone;
    this.days = data.days;
    this.rules = data.rules;
    this.exceptions = data.exceptions ?? {};
  }

  isTradingDay(date: string): boolean {
    return this.#index.has(date);
  }

  /** The local sessions of a trading day; [] on a closed day. */
  sessionsOn(date: string): readonly Session[] {
    if (!this.#index.has(date)) return [];
    const exception = this.exceptions[date];
    if (exception) return exception;
    let rule = this.rules[0]!;
    for (const candidate of this.rules) {
      if (candidate.from <= date) rule = candidate;
      else break;
    }
    return rule.sessions;
  }

  /** The sessions of a trading day as UTC instants; [] on a closed day. */
  spansOn(date: string): readonly SessionSpan[] {
    let spans = this.#spans.get(date);
    if (!spans) {
      const midnight = dateWallMs(date);
      spans = this.sessionsOn(date).map((s) => ({
        open: wallTimeToUtc(midnight + s.open * MINUTE_MS, this.timezone),
        close: wallTimeToUtc(midnight + s.close * MINUTE_MS, this.timezone),
      }));
      if (this.#spans.size > 50_000) this.#spans.clear();
      this.#spans.set(date, spans);
    }
    return spans;
  }

  /** Trading days d with start <= d <= end (YYYY-MM-DD, inclusive). */
  daysBetween(start: string, end: string): readonly string[] {
    return this.days.slice(this.#lowerBound(start), this.#lowerBound(end, true));
  }

  /** The first trading day, the last; undefined when the calendar has none. */
  get first(): string | undefined {
    return this.days[0];
  }
  get last(): string | undefined {
    return this.days[this.days.length - 1];
  }

  /** The index of the first day >= date (> date when `after`). */
  #lowerBound(date: string, after = false): number {
    let lo = 0;
    let hi = this.days.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const day = this.days[mid]!;
      if (day < date || (after && day === date)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

// ---------------------------------------------------------------------------------------------
// Changing a stored calendar

/** One trading day as a calendar file or a caller gives it; no sessions means the rule's. */
export interface CalendarDay {
  readonly date: string;
  readonly sessions?: readonly Session[];
}

/** What a store reports of a calendar without its days. */
export interface CalendarSummary {
  name: string;
  timezone: string;
  first: string | null;
  last: string | null;
  days: number;
}

export function summarizeCalendar(data: CalendarData): CalendarSummary {
  return {
    name: data.name,
    timezone: data.timezone,
    first: data.days[0] ?? null,
    last: data.days[data.days.length - 1] ?? null,
    days: data.days.length,
  };
}

/**
 * `data` with year `year`'s trading days replaced by `days`: each must be a date of that year,
 * named once, with sound sessions. A ValidationError names every bad row; nothing is changed.
 */
export function replaceCalendarYear(data: CalendarData, year: number, days: readonly CalendarDay[]): CalendarData {
  const issues: Issue[] = [];
  if (!Number.isInteger(year) || year < 1 || year > 9999) issues.push({ field: "year", message: `expected a year, got ${year}` });
  const prefix = `${String(year).padStart(4, "0")}-`;
  const seen = new Set<string>();
  days.forEach((day, row) => {
    if (typeof day.date !== "string" || !isDate(day.date)) issues.push({ row, field: "date", message: `"${String(day.date)}" is not a YYYY-MM-DD date` });
    else if (!day.date.startsWith(prefix)) issues.push({ row, field: "date", message: `${day.date} is outside ${year}` });
    else if (seen.has(day.date)) issues.push({ row, field: "date", message: `${day.date} is repeated` });
    seen.add(day.date);
    if (day.sessions) for (const message of sessionProblems(day.sessions)) issues.push({ row, field: "sessions", message });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  const kept = data.days.filter((d) => !d.startsWith(prefix));
  const exceptions: Record<string, readonly Session[]> = {};
  for (const [date, sessions] of Object.entries(data.exceptions ?? {})) if (!date.startsWith(prefix)) exceptions[date] = sessions;
  for (const day of days) if (day.sessions) exceptions[day.date] = day.sessions;
  const next: CalendarData = { ...data, days: [...kept, ...days.map((d) => d.date)].sort(), exceptions };
  new Calendar(next);
  return next;
}

/**
 * A calendar file: CSV with a `date` column (YYYY-MM-DD) and an optional `sessions` column
 * ("09:30-11:30 13:00-15:00"; empty for the calendar's usual hours), one trading day a line.
 * Problems name the file's line (the header is line 1); nothing is returned unless all is well.
 */
export function parseCalendarFile(text: string): CalendarDay[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = (lines[0] ?? "").split(",").map((h) => h.trim().toLowerCase());
  const dateAt = header.indexOf("date");
  const sessionsAt = header.indexOf("sessions");
  if (dateAt < 0) throw new ValidationError([{ row: 1, message: `line 1: expected a header with a date column (and optionally sessions), got "${lines[0] ?? ""}"` }]);
  const unknown = header.filter((h) => h !== "date" && h !== "sessions");
  if (unknown.length > 0) throw new ValidationError([{ row: 1, message: `line 1: unknown column ${unknown.join(", ")}; expected date and sessions` }]);
  const issues: Issue[] = [];
  const days: CalendarDay[] = [];
  const lineOf: number[] = [];
  lines.forEach((line, i) => {
    if (i === 0 || line.trim() === "") return;
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== header.length) {
      issues.push({ row: i + 1, message: `line ${i + 1}: expected ${header.length} fields, got ${cells.length}` });
      return;
    }
    const date = cells[dateAt]!;
    const text = sessionsAt < 0 ? "" : cells[sessionsAt]!;
    try {
      days.push(text === "" ? { date } : { date, sessions: parseSessions(text) });
      lineOf.push(i + 1);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push({ row: i + 1, field: "sessions", message: `line ${i + 1}: ${error.message}` });
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  // Checks that need the whole file (repeats), reported by line.
  const seen = new Map<string, number>();
  days.forEach((day, i) => {
    const line = lineOf[i]!;
    if (!isDate(day.date)) issues.push({ row: line, field: "date", message: `line ${line}: "${day.date}" is not a YYYY-MM-DD date` });
    const earlier = seen.get(day.date);
    if (earlier !== undefined) issues.push({ row: line, field: "date", message: `line ${line}: ${day.date} is repeated (line ${earlier})` });
    seen.set(day.date, line);
    if (day.sessions) for (const problem of sessionProblems(day.sessions)) issues.push({ row: line, field: "sessions", message: `line ${line}: ${problem}` });
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return days;
}

/** A default calendar (or an assignment) must name a stored calendar: the error says which exist. */
export function unknownCalendarError(name: string, stored: readonly string[]): ValidationError {
  return new ValidationError([
    { field: "calendar", message: `no calendar named ${JSON.stringify(name)} (stored: ${stored.join(", ") || "none"}; tradelite calendar import adds one)` },
  ]);
}
