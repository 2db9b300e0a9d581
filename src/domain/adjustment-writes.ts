/**
 * The factor store's write rules, shared by every backend: factor rows with their defaults, what
 * an insert skips or refuses, corporate actions and the factors computed from every action in
 * force, and the previous close an ex-date takes. The backends hold only the statements
 * (src/sqlite/adjustments.ts, src/postgres/adjustments.ts).
 */
import type { Bar } from "./bar.ts";
import { readInstant } from "./adjusted-reads.ts";
import { validateFactors, type AdjustmentFactor } from "./adjustment.ts";
import { factorsFromActions, validateActions, type CorporateAction } from "./corporate-action.ts";
import { dateWallMs, localDate, type CalendarData } from "./calendar.ts";
import type { CalendarStore } from "./store.ts";
import { ValidationError, type Issue } from "./errors.ts";
import { checkOptions } from "./query.ts";
import { startOfLocalDay, zoneOf, type TimeReading, type TimestampInput } from "./time.ts";

/** A factor row as `adjustments.insert` takes it: knownAt and source may be left out. */
export interface AdjustmentFactorRow {
  date: string;
  factor: number;
  /** Default: the local midnight of `date` in the store's zone (a historical import is known from its ex-date on). */
  knownAt?: TimestampInput;
  /** Default: "manual". */
  source?: string;
}

/** A corporate action as stored: the action, when it became known and who reported it. */
export interface StoredCorporateAction extends CorporateAction {
  knownAt: number;
  source: string;
}

export interface InsertActionsOptions {
  /** When the actions (and the factors computed from them) became known. Default: each action's ex-date, local midnight. */
  knownAt?: TimestampInput;
  /** Default "actions". */
  source?: string;
  /** Decimals of the reference price: 2 for A-shares (the default), 3 for funds. */
  priceDecimals?: number;
}

/** The source a factor row without one is stored with. */
export const DEFAULT_FACTOR_SOURCE = "manual";

/**
 * Factor rows as `adjustments.insert` takes them, validated (validateFactors) with the defaults
 * filled in: knownAt the local midnight of the row's date, source "manual".
 */
export function factorRowsToInsert(rows: readonly AdjustmentFactorRow[] | readonly unknown[], reading: TimeReading): AdjustmentFactor[] {
  if (!Array.isArray(rows)) throw new ValidationError([{ message: "expected an array of factor rows { date, factor, knownAt?, source? }" }]);
  const completed = rows.map((row: unknown) => {
    if (typeof row !== "object" || row === null || Array.isArray(row)) return row;
    const given = row as Record<string, unknown>;
    return {
      ...given,
      // The date as a date-only timestamp: its local midnight (a compact date read as one first).
      knownAt: given.knownAt === undefined && typeof given.date === "string" ? given.date.replace(/^(\d{4})(\d{2})(\d{2})$/, "$1-$2-$3") : given.knownAt,
      source: given.source === undefined ? DEFAULT_FACTOR_SOURCE : given.source,
    };
  });
  try {
    return validateFactors(completed, zoneOf(reading));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // A knownAt taken from a bad date repeats the date's issue: the date's alone names the cause.
    const defaulted = (row: number | undefined) => row !== undefined && (rows[row] as { knownAt?: unknown } | null)?.knownAt === undefined;
    throw new ValidationError(error.issues.filter((issue) => !(issue.field === "knownAt" && defaulted(issue.row))));
  }
}

/**
 * The rows of `incoming` not stored yet: one identical to a stored row (same date, knownAt,
 * factor) is skipped, so an import run twice writes nothing the second time; one with a stored
 * row's date and knownAt but another factor is refused (a correction needs a later knownAt).
 */
export function newFactorRows(stored: readonly AdjustmentFactor[], incoming: readonly AdjustmentFactor[]): AdjustmentFactor[] {
  const byKey = new Map(stored.map((row) => [`${row.date} ${row.knownAt}`, row]));
  const issues: Issue[] = [];
  const fresh: AdjustmentFactor[] = [];
  incoming.forEach((row, index) => {
    const held = byKey.get(`${row.date} ${row.knownAt}`);
    if (held === undefined) fresh.push(row);
    else if (held.factor !== row.factor) {
      issues.push({
        row: index,
        field: "factor",
        message: `${row.date} known at ${new Date(row.knownAt).toISOString()} is stored with factor ${held.factor}, not ${row.factor}: a correction is a new row with a later knownAt`,
      });
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return fresh;
}

/** insertActions' options, checked: knownAt as epoch ms or undefined (each ex-date's midnight). */
export function readInsertActionsOptions(options: unknown, reading: TimeReading): { knownAt?: number; source: string; priceDecimals: number } {
  const issues: Issue[] = [];
  const given = checkOptions<InsertActionsOptions>(options, ["knownAt", "source", "priceDecimals"], issues);
  const knownAt = readInstant(given.knownAt, "knownAt", reading, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  // factorsFromActions checks source and priceDecimals, naming the option.
  return { ...(knownAt === undefined ? {} : { knownAt }), source: given.source ?? "actions", priceDecimals: given.priceDecimals ?? 2 };
}

/**
 * The actions a symbol holds after adding `incoming` to `stored`: for each ex-date the latest
 * known one, an incoming action replacing a stored one of its date. Ascending by date.
 */
export function actionsInForce(stored: readonly StoredCorporateAction[], incoming: readonly StoredCorporateAction[]): StoredCorporateAction[] {
  const byDate = new Map<string, StoredCorporateAction>();
  for (const action of stored) {
    const held = byDate.get(action.date);
    if (held === undefined || held.knownAt <= action.knownAt) byDate.set(action.date, action);
  }
  for (const action of incoming) byDate.set(action.date, action);
  return [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** Validated actions with their knownAt (the option, else each ex-date's local midnight) and source. */
export function actionsToStore(actions: readonly unknown[], knownAt: number | undefined, source: string, timeZone: string): StoredCorporateAction[] {
  return validateActions(actions).map((action) => ({ ...action, knownAt: knownAt ?? midnightOf(action.date, timeZone), source }));
}

/**
 * The factors of `actions` (in force, ascending), each known when every action up to its date
 * was: the cumulative factor of an ex-date depends on all earlier actions. `previousClose`
 * answers the raw close before an ex-date (factorsFromActions).
 */
export function factorsOfActions(
  actions: readonly StoredCorporateAction[],
  previousClose: (date: string) => number | null,
  source: string,
  priceDecimals: number,
): AdjustmentFactor[] {
  const plain = actions.map(({ knownAt: _knownAt, source: _source, ...action }) => action);
  const factors = factorsFromActions(plain, previousClose, { source, priceDecimals, knownAt: 0 });
  let known = -Infinity;
  let next = 0;
  return factors.map((row) => {
    while (next < actions.length && actions[next]!.date <= row.date) known = Math.max(known, actions[next++]!.knownAt);
    return { ...row, knownAt: known };
  });
}

/**
 * Of `computed` factors, the rows to write: a date whose latest stored row already has the
 * factor is left alone; the rest go through newFactorRows (identical rows skipped, a clash
 * refused).
 */
export function changedFactorRows(stored: readonly AdjustmentFactor[], computed: readonly AdjustmentFactor[]): AdjustmentFactor[] {
  const latest = new Map<string, AdjustmentFactor>();
  for (const row of stored) {
    const held = latest.get(row.date);
    if (held === undefined || held.knownAt <= row.knownAt) latest.set(row.date, row);
  }
  return newFactorRows(stored, computed.filter((row) => latest.get(row.date)?.factor !== row.factor));
}

/** The local midnight of a YYYY-MM-DD date in `timeZone`. */
export function midnightOf(date: string, timeZone: string): number {
  return startOfLocalDay(dateWallMs(date), timeZone);
}

/**
 * The raw close before an ex-date from the last stored daily bar and the last minute bar before
 * it: the one of the later trading date, the daily bar when both are of one date (a vendor's
 * official close, where the last minute's close may differ by the closing auction).
 */
export function previousCloseOf(daily: Bar | undefined, minute: Bar | undefined, timeZone: string): number | null {
  if (minute === undefined || minute.close === null) return daily?.close ?? null;
  if (daily === undefined || daily.close === null) return minute.close;
  return localDate(minute.timestamp, timeZone) > localDate(daily.timestamp, timeZone) ? minute.close : daily.close;
}

/** `{ asOf }` of a list, checked: epoch ms, or undefined for every row. */
export function readAsOf(options: unknown, reading: TimeReading): number | undefined {
  const issues: Issue[] = [];
  const { asOf } = checkOptions<{ asOf?: TimestampInput }>(options, ["asOf"], issues);
  const instant = readInstant(asOf, "asOf", reading, issues);
  if (issues.length > 0) throw new ValidationError(issues);
  return instant;
}

/** A corporate_actions row as both backends select it (absent amounts are NULL). */
export interface ActionRow {
  date: string;
  cash: number | null;
  bonus: number | null;
  rights: number | null;
  rightsPrice: number | null;
  knownAt: number;
  source: string;
}

const ACTION_AMOUNTS = ["cash", "bonus", "rights", "rightsPrice"] as const;

export function storedAction(row: ActionRow): StoredCorporateAction {
  const action: StoredCorporateAction = { date: row.date, knownAt: Number(row.knownAt), source: row.source };
  for (const field of ACTION_AMOUNTS) {
    const value = row[field];
    if (value !== null) action[field] = Number(value);
  }
  return action;
}

/** newFactorRows for actions: an identical one is skipped, another with its date and knownAt refused. */
export function newActionRows(stored: readonly StoredCorporateAction[], incoming: readonly StoredCorporateAction[]): StoredCorporateAction[] {
  const byKey = new Map(stored.map((action) => [`${action.date} ${action.knownAt}`, action]));
  const issues: Issue[] = [];
  const fresh = incoming.filter((action, row) => {
    const held = byKey.get(`${action.date} ${action.knownAt}`);
    if (held === undefined) return true;
    if (ACTION_AMOUNTS.some((field) => (held[field] ?? 0) !== (action[field] ?? 0))) {
      issues.push({ row, field: "date", message: `an action on ${action.date} known at ${new Date(action.knownAt).toISOString()} is stored with other amounts: a correction needs a later knownAt` });
    }
    return false;
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return fresh;
}

/**
 * The dates among `dates` that `calendar` does not trade, within its span (a date before its
 * first day or after its last is not judged): an ex-date on a closed day is stored as given, and
 * said, since it is usually a typo or a vendor's announcement date for the ex-date.
 */
export function closedDates(dates: readonly string[], calendar: CalendarData): string[] {
  const open = new Set(calendar.days);
  const first = calendar.days[0];
  const last = calendar.days.at(-1);
  if (first === undefined || last === undefined) return [];
  return [...new Set(dates)].filter((date) => date >= first && date <= last && !open.has(date)).sort();
}

/** The warnings an adjustment write of `dates` gets: each ex-date the symbol's calendar says is closed. */
export async function exDateWarnings(calendars: Pick<CalendarStore, "of" | "get">, symbol: string, dates: readonly string[]): Promise<string[]> {
  const name = await calendars.of(symbol);
  const calendar = name === null ? null : await calendars.get(name);
  if (calendar === null) return [];
  const days = dates.map((date) => date.replace(/^(\d{4})(\d{2})(\d{2})$/, "$1-$2-$3"));
  return closedDates(days, calendar).map((date) => `${symbol}: ${date} is not a trading day of ${calendar.name}; stored as given (an ex-date is the first day traded at the new price)`);
}
