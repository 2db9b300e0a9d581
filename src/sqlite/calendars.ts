/**
 * Exchange calendars: the calendars, their trading days, and which symbol follows which. The
 * shipped XSHG and XSHE are written by the migration that creates the tables. A Calendar object
 * is built once per calendar and version; every change bumps the version, so a process sees
 * another's import at its next lookup (one primary-key read).
 */
import {
  Calendar,
  formatSessions,
  parseSessions,
  replaceCalendarYear,
  summarizeCalendar,
  type CalendarData,
  type CalendarDay,
  type CalendarSummary,
  type Session,
  unknownCalendarError,
} from "../domain/calendar.ts";
import { NotFoundError } from "../domain/errors.ts";
import { assertSymbol } from "../domain/symbol.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, type Connection } from "./connection.ts";

/** The tables; run by the migration that introduces calendars. */
export const CALENDAR_TABLES = `
CREATE TABLE calendars (
    name TEXT PRIMARY KEY,
    timezone TEXT NOT NULL,
    rules TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL
);
CREATE TABLE calendar_days (
    calendar TEXT NOT NULL REFERENCES calendars (name) ON DELETE CASCADE,
    date TEXT NOT NULL,
    sessions TEXT,
    PRIMARY KEY (calendar, date)
) WITHOUT ROWID;
CREATE TABLE symbol_calendars (
    symbol TEXT PRIMARY KEY,
    calendar TEXT NOT NULL REFERENCES calendars (name)
);
`;

interface CalendarRow {
  timezone: string;
  rules: string;
  version: number;
}

/** Rules as stored: `[{"from":"1990-12-19","sessions":"09:30-11:30 13:00-15:00"}]`. */
function rulesJson(data: CalendarData): string {
  return JSON.stringify(data.rules.map((rule) => ({ from: rule.from, sessions: formatSessions(rule.sessions) })));
}

function rulesOf(json: string): CalendarData["rules"] {
  return (JSON.parse(json) as { from: string; sessions: string }[]).map((rule) => ({ from: rule.from, sessions: parseSessions(rule.sessions) }));
}

/** Writes a whole calendar (rows replaced); must run inside a write transaction. */
export function writeCalendar(conn: Connection, data: CalendarData): void {
  new Calendar(data);
  const db = conn.sqlite;
  db.run(
    `INSERT INTO calendars (name, timezone, rules, version, updated_at) VALUES (?, ?, ?, 1, ?)
     ON CONFLICT (name) DO UPDATE SET timezone = excluded.timezone, rules = excluded.rules,
       version = calendars.version + 1, updated_at = excluded.updated_at`,
    [data.name, data.timezone, rulesJson(data), Date.now()],
  );
  db.run("DELETE FROM calendar_days WHERE calendar = ?", [data.name]);
  const insert = db.prepare("INSERT INTO calendar_days (calendar, date, sessions) VALUES (?, ?, ?)");
  const exceptions = data.exceptions ?? {};
  for (const date of data.days) {
    const sessions = exceptions[date];
    insert.run(data.name, date, sessions ? formatSessions(sessions) : null);
  }
  insert.finalize();
}

/** Throws unless `name` is a stored calendar (a default calendar must name one). */
export function assertCalendarStored(conn: Connection, name: string): void {
  const names = guard(() => conn.sqlite.query<{ name: string }, []>("SELECT name FROM calendars ORDER BY name").all()).map((row) => row.name);
  if (!names.includes(name)) throw unknownCalendarError(name, names);
}

/**
 * `keyOf` is the store's symbol rule (the normalizeSymbols setting) for the symbols of(),
 * assign() are given; calendarOf() is called with symbols already keyed.
 */
export function createCalendarRepository(conn: Connection, audit: AuditRecorder, defaultCalendar: () => string | null, keyOf: (symbol: string) => string = assertSymbol) {
  const selectCalendar = conn.prepare<CalendarRow>("SELECT timezone, rules, version FROM calendars WHERE name = ?");
  const selectDays = conn.prepare<{ date: string; sessions: string | null }>("SELECT date, sessions FROM calendar_days WHERE calendar = ? ORDER BY date");
  const selectNames = conn.prepare<{ name: string }>("SELECT name FROM calendars ORDER BY name");
  // The calendar precedence (src/domain/instrument.ts): the symbol's own assignment, then its
  // instrument's calendar; the default is the caller's.
  const selectAssigned = conn.prepare<{ calendar: string | null }>(
    "SELECT coalesce((SELECT calendar FROM symbol_calendars WHERE symbol = ?1), (SELECT calendar FROM instruments WHERE symbol = ?1)) AS calendar",
  );
  const upsertAssigned = conn.prepare(
    "INSERT INTO symbol_calendars (symbol, calendar) VALUES (?, ?) ON CONFLICT (symbol) DO UPDATE SET calendar = excluded.calendar",
  );
  const deleteAssigned = conn.prepare("DELETE FROM symbol_calendars WHERE symbol = ?");
  const built = new Map<string, { version: number; calendar: Calendar }>();

  /** The stored calendar, rebuilt only when its version moved. */
  function load(name: string): Calendar | null {
    const row = guard(() => selectCalendar.get(name as never));
    if (!row) return null;
    const cached = built.get(name);
    if (cached && cached.version === row.version) return cached.calendar;
    const days: string[] = [];
    const exceptions: Record<string, Session[]> = {};
    for (const day of guard(() => selectDays.all(name as never))) {
      days.push(day.date);
      if (day.sessions !== null) exceptions[day.date] = parseSessions(day.sessions);
    }
    const calendar = new Calendar({ name, timezone: row.timezone, days, rules: rulesOf(row.rules), exceptions });
    built.set(name, { version: row.version, calendar });
    return calendar;
  }

  function dataOf(calendar: Calendar): CalendarData {
    return { name: calendar.name, timezone: calendar.timezone, days: calendar.days, rules: calendar.rules, exceptions: calendar.exceptions };
  }

  function nameOf(symbol: string): string | null {
    return guard(() => selectAssigned.get(symbol as never))?.calendar ?? defaultCalendar();
  }

  function required(name: string): Calendar {
    const calendar = load(name);
    if (!calendar) throw new NotFoundError(`no calendar named ${JSON.stringify(name)} (tradelite calendar list shows those stored)`);
    return calendar;
  }

  return {
    list(): CalendarSummary[] {
      return guard(() => selectNames.all()).map(({ name }) => summarizeCalendar(dataOf(required(name))));
    },
    get(name: string): CalendarData | null {
      const calendar = load(name);
      return calendar ? dataOf(calendar) : null;
    },
    /** The Calendar a symbol's session-aligned reads and completeness follow, or null. */
    calendarOf(symbol: string): Calendar | null {
      const name = nameOf(symbol);
      return name === null ? null : load(name);
    },
    of(symbol: string): string | null {
      return nameOf(keyOf(assertSymbol(symbol)));
    },
    put(data: CalendarData): CalendarSummary {
      new Calendar(data);
      conn.writeTransaction(() => {
        writeCalendar(conn, data);
        audit("calendar.put", data.name, { timezone: data.timezone, days: data.days.length, first: data.days[0] ?? null, last: data.days.at(-1) ?? null });
      });
      return summarizeCalendar(data);
    },
    replaceYear(name: string, year: number, days: readonly CalendarDay[]): CalendarSummary {
      return conn.writeTransaction(() => {
        const next = replaceCalendarYear(dataOf(required(name)), year, days);
        writeCalendar(conn, next);
        audit("calendar.replace_year", name, { year, days: days.length });
        return summarizeCalendar(next);
      });
    },
    assign(given: string, name: string | null): void {
      const symbol = keyOf(assertSymbol(given));
      conn.writeTransaction(() => {
        if (name === null) deleteAssigned.run(symbol as never);
        else {
          if (!load(name)) assertCalendarStored(conn, name);
          upsertAssigned.run(symbol as never, name as never);
        }
        audit("calendar.assign", symbol, { calendar: name });
      });
    },
  };
}

export type CalendarRepository = ReturnType<typeof createCalendarRepository>;
