/**
 * Exchange calendars on PostgreSQL: the calendars, their trading days, and which symbol follows
 * which, with the same rules, audit actions and details as src/sqlite/calendars.ts. The shipped
 * XSHG and XSHE are written by the migration that creates the tables.
 *
 * A Calendar object is built once per calendar and version (every change bumps the version).
 * Session-aligned resampling asks for a symbol's calendar synchronously (resamplingOf), so this
 * repository also keeps, per symbol, the calendar it resolved to at its last refresh(symbol):
 * the store refreshes before each read that needs one (one row: the assignment and the
 * calendar's version; the days only when the version moved) and after its own changes.
 *
 * Days are `date`, read back with to_char (not date::text, which follows the session's
 * DateStyle); sessions and rules are the text SQLite stores. Days are written as two array
 * parameters and unnested: one statement text whatever the calendar.
 */
import type { SQL } from "bun";
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
import { lockAuditChain, type AuditRecorder } from "./audit.ts";
import { READ_COMMITTED, type PostgresPool } from "./connection.ts";

/** The tables; run by the migration that introduces calendars. */
export const CALENDAR_TABLES = `
CREATE TABLE calendars (
    name text PRIMARY KEY,
    timezone text NOT NULL,
    rules text NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    updated_at bigint NOT NULL
);
CREATE TABLE calendar_days (
    calendar text NOT NULL REFERENCES calendars (name) ON DELETE CASCADE,
    date date NOT NULL,
    sessions text,
    PRIMARY KEY (calendar, date)
);
CREATE TABLE symbol_calendars (
    symbol text PRIMARY KEY,
    calendar text NOT NULL REFERENCES calendars (name)
);
`;

/** A calendar as its rows hold it: what a write sends and a read gets back. */
interface StoredCalendar {
  timezone: string;
  rules: string;
  version: number;
  dates: string[];
  sessions: (string | null)[];
}

/** Rules as stored: `[{"from":"1990-12-19","sessions":"09:30-11:30 13:00-15:00"}]`. */
function rulesJson(data: CalendarData): string {
  return JSON.stringify(data.rules.map((rule) => ({ from: rule.from, sessions: formatSessions(rule.sessions) })));
}

function rulesOf(json: string): CalendarData["rules"] {
  return (JSON.parse(json) as { from: string; sessions: string }[]).map((rule) => ({ from: rule.from, sessions: parseSessions(rule.sessions) }));
}

/** The Calendar the rows describe (built from the stored text, as a later read would build it). */
function calendarOfRows(name: string, stored: StoredCalendar): Calendar {
  const exceptions: Record<string, Session[]> = {};
  stored.sessions.forEach((sessions, i) => {
    if (sessions !== null) exceptions[stored.dates[i]!] = parseSessions(sessions);
  });
  return new Calendar({ name, timezone: stored.timezone, days: stored.dates, rules: rulesOf(stored.rules), exceptions });
}

/**
 * Writes a whole calendar (rows replaced) inside the open transaction `tx`; returns what was
 * stored, with the calendar's new version.
 */
export async function writeCalendar(tx: SQL, data: CalendarData): Promise<StoredCalendar> {
  new Calendar(data);
  const exceptions = data.exceptions ?? {};
  const dates = [...data.days];
  const sessions = dates.map((date) => {
    const special = exceptions[date];
    return special ? formatSessions(special) : null;
  });
  const rules = rulesJson(data);
  const [row] = (await tx`
    INSERT INTO calendars (name, timezone, rules, version, updated_at) VALUES (${data.name}, ${data.timezone}, ${rules}, 1, ${Date.now()}::bigint)
    ON CONFLICT (name) DO UPDATE SET timezone = excluded.timezone, rules = excluded.rules,
      version = calendars.version + 1, updated_at = excluded.updated_at
    RETURNING version::float8 AS version`) as { version: number }[];
  await tx`DELETE FROM calendar_days WHERE calendar = ${data.name}`;
  await tx`INSERT INTO calendar_days (calendar, date, sessions)
           SELECT ${data.name}, d.date, d.sessions FROM unnest(${dates}::date[], ${sessions}::text[]) AS d(date, sessions)`;
  return { timezone: data.timezone, rules, version: row!.version, dates, sessions };
}

/**
 * `defaultCalendar` names the calendar a symbol without its own entry follows (null: none).
 */
/** Throws unless `name` is a stored calendar (a default calendar must name one). */
export async function assertCalendarStored(pool: PostgresPool, name: string): Promise<void> {
  const rows = await pool.run(async (sql) => (await sql`SELECT name FROM calendars ORDER BY name COLLATE "C"`) as { name: string }[]);
  const names = rows.map((row) => row.name);
  if (!names.includes(name)) throw unknownCalendarError(name, names);
}

/**
 * `keyOf` is the store's symbol rule (the normalizeSymbols setting) for the symbols of() and
 * assign() are given; refresh() and calendarOf() take symbols already keyed.
 */
export function createCalendarRepository(pool: PostgresPool, audit: AuditRecorder, defaultCalendar: () => string | null, keyOf: (symbol: string) => string = assertSymbol) {
  const built = new Map<string, { version: number; calendar: Calendar }>();
  /** Per symbol, the calendar name its last refresh resolved to (null: none). */
  const resolved = new Map<string, string | null>();

  /** Keeps the newest build: two refreshes may finish out of order. */
  function remember(name: string, version: number, calendar: Calendar): Calendar {
    const cached = built.get(name);
    if (!cached || cached.version < version) built.set(name, { version, calendar });
    return calendar;
  }

  /**
   * The stored calendar, its days read only when the version moved. The days, rules and version
   * come from one statement, so from one snapshot even under READ COMMITTED.
   */
  async function rebuild(sql: SQL, name: string): Promise<Calendar | null> {
    const [row] = (await sql`
      SELECT c.timezone, c.rules, c.version::float8 AS version,
             coalesce((SELECT array_agg(to_char(d.date, 'YYYY-MM-DD') ORDER BY d.date) FROM calendar_days AS d WHERE d.calendar = c.name), '{}') AS dates,
             coalesce((SELECT array_agg(d.sessions ORDER BY d.date) FROM calendar_days AS d WHERE d.calendar = c.name), '{}') AS sessions
      FROM calendars AS c WHERE c.name = ${name}`) as StoredCalendar[];
    if (!row) return null;
    return remember(name, row.version, calendarOfRows(name, row));
  }

  /** The cached build when `version` is current, else a fresh one. */
  async function atVersion(sql: SQL, name: string, version: number): Promise<Calendar | null> {
    const cached = built.get(name);
    if (cached && cached.version === version) return cached.calendar;
    return rebuild(sql, name);
  }

  /** The stored calendar (on the pool, or inside a caller's transaction `on`), or null. */
  async function load(name: string, on?: SQL): Promise<Calendar | null> {
    // As SQLite answers a name that is not text (no such row), not with a type error from the server.
    if (typeof name !== "string") return null;
    const read = async (sql: SQL) => {
      const [row] = (await sql`SELECT version::float8 AS version FROM calendars WHERE name = ${name}`) as { version: number }[];
      return row ? atVersion(sql, name, row.version) : null;
    };
    return on ? read(on) : pool.run(read);
  }

  async function required(name: string, on?: SQL): Promise<Calendar> {
    const calendar = await load(name, on);
    if (!calendar) throw new NotFoundError(`no calendar named ${JSON.stringify(name)} (tradelite calendar list shows those stored)`);
    return calendar;
  }

  function dataOf(calendar: Calendar): CalendarData {
    // A copy of the days: the cached Calendar is shared by every later read in the process.
    return { name: calendar.name, timezone: calendar.timezone, days: [...calendar.days], rules: calendar.rules, exceptions: calendar.exceptions };
  }

  /**
   * Resolves a symbol's calendar now and remembers it for calendarOf(): one row (its own entry,
   * else its instrument's calendar, else the default: the precedence src/domain/instrument.ts
   * gives, and that calendar's version); the days only when the version moved.
   */
  async function refresh(symbol: string): Promise<{ name: string | null; calendar: Calendar | null }> {
    assertSymbol(symbol);
    const fallback = defaultCalendar();
    return pool.run(async (sql) => {
      const [row] = (await sql`
        SELECT n.name, c.version::float8 AS version
        FROM (SELECT coalesce((SELECT calendar FROM symbol_calendars WHERE symbol = ${symbol}),
                              (SELECT calendar FROM instruments WHERE symbol = ${symbol}), ${fallback}::text) AS name) AS n
        LEFT JOIN calendars AS c ON c.name = n.name`) as { name: string | null; version: number | null }[];
      const name = row?.name ?? null;
      const calendar = name === null || row?.version == null ? null : await atVersion(sql, name, row.version);
      resolved.set(symbol, calendar ? name : null);
      return { name, calendar };
    });
  }

  return {
    refresh,

    /**
     * The Calendar a symbol's session-aligned reads and completeness follow, as of the symbol's
     * last refresh() in this process (the default's, for a symbol never refreshed); null when none.
     */
    calendarOf(symbol: string): Calendar | null {
      const name = resolved.has(symbol) ? resolved.get(symbol)! : defaultCalendar();
      return name === null ? null : (built.get(name)?.calendar ?? null);
    },

    async list(): Promise<CalendarSummary[]> {
      const rows = await pool.run(async (sql) => (await sql`SELECT name, version::float8 AS version FROM calendars ORDER BY name COLLATE "C"`) as { name: string; version: number }[]);
      const summaries: CalendarSummary[] = [];
      for (const { name, version } of rows) {
        const calendar = await pool.run((sql) => atVersion(sql, name, version));
        // Null only if removed since the names were read (nothing removes calendars today).
        if (calendar) summaries.push(summarizeCalendar(calendar));
      }
      return summaries;
    },

    async get(name: string): Promise<CalendarData | null> {
      const calendar = await load(name);
      return calendar ? dataOf(calendar) : null;
    },

    async of(symbol: string): Promise<string | null> {
      return (await refresh(keyOf(assertSymbol(symbol)))).name;
    },

    async put(data: CalendarData): Promise<CalendarSummary> {
      new Calendar(data);
      const actor = audit.actor();
      const stored = await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          const written = await writeCalendar(tx, data);
          await audit(tx, actor, "calendar.put", data.name, { timezone: data.timezone, days: data.days.length, first: data.days[0] ?? null, last: data.days.at(-1) ?? null });
          return written;
        }),
      );
      remember(data.name, stored.version, calendarOfRows(data.name, stored));
      return summarizeCalendar(data);
    },

    async replaceYear(name: string, year: number, days: readonly CalendarDay[]): Promise<CalendarSummary> {
      const actor = audit.actor();
      const { next, stored } = await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          // The chain's lock first: calendar writers queue on it, so the year is replaced in the
          // calendar as the previous writer left it.
          await lockAuditChain(tx);
          const next = replaceCalendarYear(dataOf(await required(name, tx)), year, days);
          const stored = await writeCalendar(tx, next);
          await audit(tx, actor, "calendar.replace_year", name, { year, days: days.length });
          return { next, stored };
        }),
      );
      remember(name, stored.version, calendarOfRows(name, stored));
      return summarizeCalendar(next);
    },

    async assign(given: string, name: string | null): Promise<void> {
      const symbol = keyOf(assertSymbol(given));
      const actor = audit.actor();
      await pool.run((sql) =>
        sql.begin(READ_COMMITTED, async (tx) => {
          await lockAuditChain(tx);
          if (name === null) await tx`DELETE FROM symbol_calendars WHERE symbol = ${symbol}`;
          else {
            const names = ((await tx`SELECT name FROM calendars ORDER BY name COLLATE "C"`) as { name: string }[]).map((row) => row.name);
            if (typeof name !== "string" || !names.includes(name)) throw unknownCalendarError(name, names);
            await tx`INSERT INTO symbol_calendars (symbol, calendar) VALUES (${symbol}, ${name})
                     ON CONFLICT (symbol) DO UPDATE SET calendar = excluded.calendar`;
          }
          await audit(tx, actor, "calendar.assign", symbol, { calendar: name });
        }),
      );
      await refresh(symbol);
    },
  };
}

export type CalendarRepository = ReturnType<typeof createCalendarRepository>;
