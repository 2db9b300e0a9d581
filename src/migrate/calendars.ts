/**
 * The exchange calendars in `tradelite migrate`: copied whole, not row by row. A new PostgreSQL
 * database already holds the shipped XSHG and XSHE (its migration writes them) and a SQLite
 * source may have replaced a year of one or added its own, so each source calendar is compared
 * with the target's as CalendarData and, when they differ, written with PostgreSQL's
 * writeCalendar (one transaction replacing the calendar's days, its version bumped there): days
 * removed on the source go, and a rerun writes nothing. Both sides are read through their own
 * repository, the one place each reads its rows; `version` and `updated_at` are each side's own.
 */
import { formatSessions, type CalendarData } from "../domain/calendar.ts";
import { shippedCalendar } from "../domain/calendars/index.ts";
import { resolveDatabaseOptions } from "../config.ts";
import { createCalendarRepository as createSqliteCalendars } from "../sqlite/calendars.ts";
import { openConnection } from "../sqlite/connection.ts";
import { createCalendarRepository as createPostgresCalendars, writeCalendar } from "../postgres/calendars.ts";
import { READ_COMMITTED, type PostgresPool } from "../postgres/connection.ts";

/** The repositories record an audit entry for each of their writes; the copy only reads through them. */
const refuseWrite = (): never => {
  throw new Error("tradelite migrate reads calendars through the repositories and never writes through them");
};
const READ_ONLY_AUDIT = Object.assign(refuseWrite, {
  actor: () => "migrate",
  as: <T>(_actor: string, work: () => T): T => work(),
  appended: refuseWrite,
  takeRollup: refuseWrite,
});

/** The calendars on both sides, by name, with what the copy should do with each. */
export interface CalendarPlan {
  /** Source calendars the target lacks or holds otherwise: written whole. */
  readonly toWrite: CalendarData[];
  /** Source calendars the target holds as they are: left alone. */
  readonly identical: string[];
  /** Target calendars the source does not have (a shipped one as shipped is not among them). */
  readonly foreign: { name: string; what: string }[];
}

/** One line per difference, by calendar name (none: the same calendars, day for day). */
export interface CalendarDifference {
  calendar: string;
  what: string;
}

function rulesText(data: CalendarData): string {
  return JSON.stringify(data.rules.map((rule) => [rule.from, formatSessions(rule.sessions)]));
}

/** The text two calendars share exactly when they have the same zone, rules, days and sessions. */
function calendarText(data: CalendarData): string {
  const exceptions = data.exceptions ?? {};
  return JSON.stringify({
    timezone: data.timezone,
    rules: rulesText(data),
    days: data.days.map((date) => (exceptions[date] ? [date, formatSessions(exceptions[date])] : date)),
  });
}

/** A calendar the target may hold though the source does not: a shipped one, exactly as shipped. */
function isShippedAsShipped(data: CalendarData): boolean {
  const shipped = shippedCalendar(data.name);
  return shipped !== undefined && calendarText(shipped) === calendarText(data);
}

/** Every calendar of each side, by name (read through each backend's repository). */
async function readBothSides(sqlitePath: string, pool: PostgresPool): Promise<{ source: Map<string, CalendarData>; target: Map<string, CalendarData> }> {
  const conn = openConnection(resolveDatabaseOptions({ path: sqlitePath, readonly: true }));
  const source = new Map<string, CalendarData>();
  try {
    const calendars = createSqliteCalendars(conn, READ_ONLY_AUDIT, () => null);
    for (const { name } of calendars.list()) source.set(name, calendars.get(name)!);
  } finally {
    conn.close();
  }
  const calendars = createPostgresCalendars(pool, READ_ONLY_AUDIT, () => null);
  const target = new Map<string, CalendarData>();
  for (const { name } of await calendars.list()) {
    const data = await calendars.get(name);
    if (data) target.set(name, data);
  }
  return { source, target };
}

/** What the copy will do with each calendar; read before the refusal, so a refused run has written none. */
export async function planCalendars(sqlitePath: string, pool: PostgresPool): Promise<CalendarPlan> {
  const { source, target } = await readBothSides(sqlitePath, pool);
  const plan: CalendarPlan = { toWrite: [], identical: [], foreign: [] };
  for (const [name, data] of source) {
    const theirs = target.get(name);
    if (theirs && calendarText(theirs) === calendarText(data)) plan.identical.push(name);
    else plan.toWrite.push(data);
  }
  for (const [name, data] of target) {
    if (source.has(name) || isShippedAsShipped(data)) continue;
    plan.foreign.push({ name, what: shippedCalendar(name) ? "not in the source, and not the shipped calendar" : "not in the source" });
  }
  return plan;
}

/** Writes one calendar whole on PostgreSQL, in one transaction. */
export async function copyCalendar(pool: PostgresPool, data: CalendarData): Promise<void> {
  await pool.run((sql) => sql.begin(READ_COMMITTED, (tx) => writeCalendar(tx, data)));
}

/** What differs between two versions of a calendar, as a user would look for it. */
function whatDiffers(sqlite: CalendarData, postgres: CalendarData): string {
  if (sqlite.timezone !== postgres.timezone) return `timezone: SQLite ${sqlite.timezone}, PostgreSQL ${postgres.timezone}`;
  if (rulesText(sqlite) !== rulesText(postgres)) return "session rules differ";
  const theirs = new Set(postgres.days);
  const ours = new Set(sqlite.days);
  const onlySqlite = sqlite.days.find((date) => !theirs.has(date));
  const onlyPostgres = postgres.days.find((date) => !ours.has(date));
  if (onlySqlite || onlyPostgres) {
    const first = onlySqlite && (!onlyPostgres || onlySqlite < onlyPostgres) ? `${onlySqlite} only in SQLite` : `${onlyPostgres} only in PostgreSQL`;
    return `days: SQLite ${sqlite.days.length}, PostgreSQL ${postgres.days.length} (first difference: ${first})`;
  }
  const date = sqlite.days.find((day) => formatSessions(sqlite.exceptions?.[day] ?? []) !== formatSessions(postgres.exceptions?.[day] ?? []))!;
  return `the same days, different sessions (first on ${date})`;
}

/** Every calendar compared as CalendarData on both sides; a shipped one as shipped may be on PostgreSQL alone. */
export async function compareCalendars(sqlitePath: string, pool: PostgresPool): Promise<CalendarDifference[]> {
  const { source, target } = await readBothSides(sqlitePath, pool);
  const differences: CalendarDifference[] = [];
  for (const name of [...new Set([...source.keys(), ...target.keys()])].sort()) {
    const sqlite = source.get(name);
    const postgres = target.get(name);
    if (!postgres) differences.push({ calendar: name, what: "only in SQLite" });
    else if (!sqlite) {
      if (!isShippedAsShipped(postgres)) differences.push({ calendar: name, what: "only in PostgreSQL" });
    } else if (calendarText(sqlite) !== calendarText(postgres)) differences.push({ calendar: name, what: whatDiffers(sqlite, postgres) });
  }
  return differences;
}
