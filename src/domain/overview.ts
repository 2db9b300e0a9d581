/**
 * overview()'s shared parts: the series it reports, and what it adds on request (each symbol's
 * completeness counts, summed from the completeness report every backend computes,
 * src/domain/session.ts).
 */
import { ValidationError, type Issue } from "./errors.ts";
import { checkOptions } from "./query.ts";
import type { Completeness } from "./session.ts";
import type { OverviewOptions, SymbolOverview } from "./store.ts";

/**
 * The stored series overview() reports, and the table each lives in on both backends: the rows
 * of market_data_summary (src/sqlite/summary.ts, src/postgres/summary.ts) are keyed by these.
 */
export const SUMMARY_SERIES = [
  { series: "minutes", table: "market_data" },
  { series: "daily", table: "market_data_daily" },
] as const;

/** Reads overview()'s options: whether to add each symbol's completeness counts. */
export function readOverviewOptions(options: unknown): boolean {
  const issues: Issue[] = [];
  const given = checkOptions<OverviewOptions>(options, ["completeness"], issues);
  if (given.completeness !== undefined && typeof given.completeness !== "boolean") {
    issues.push({ field: "completeness", message: `must be true or false, got ${JSON.stringify(given.completeness)}` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return given.completeness === true;
}

/**
 * A symbol's overview row with its completeness summed over the days: `expected` the slots its
 * sessions call for, `missing` those with no bar (bars outside the sessions fill none).
 */
export function withCompletenessCounts(row: SymbolOverview, completeness: Completeness): SymbolOverview {
  let expected = 0;
  let present = 0;
  for (const day of completeness.days) {
    expected += day.expected;
    present += day.present;
  }
  return { ...row, expected, missing: expected - present };
}
