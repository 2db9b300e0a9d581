import { describe, expect, test } from "bun:test";
import { adjustBars } from "../../src/domain/adjusted-bars.ts";
import type { AdjustmentFactor } from "../../src/domain/adjustment.ts";
import type { Bar } from "../../src/domain/bar.ts";
import { factorsFromActions, referencePrice, roundHalfUp, validateActions, type CorporateAction } from "../../src/domain/corporate-action.ts";
import { issuesOf } from "../support/domain-fixtures.ts";
import { PRICE_FIELDS, readBaostockQfq, readBaostockRaw, readTdxActions, readTushareFactors, SHANGHAI } from "../support/real-data-adjustments.ts";

const raw = await readBaostockRaw();
const vendorQfq = await readBaostockQfq();
const tdxActions = await readTdxActions();
const dateOf = (bar: Bar) => new Date(bar.timestamp).toLocaleDateString("sv-SE", { timeZone: SHANGHAI });

/** The raw close of the last day before `date` in `bars` (oldest first), or null before the first. */
function previousCloseIn(bars: readonly Bar[]): (date: string) => number | null {
  const dates = bars.map(dateOf);
  return (date) => {
    const next = dates.findIndex((day) => day >= date);
    const index = (next === -1 ? dates.length : next) - 1;
    return index < 0 ? null : bars[index]!.close;
  };
}

/** The raw file starts in 2005: the 2003 and 2004 events have no previous close here. */
const held = tdxActions.filter((action) => action.date >= "2005-01-04");
const SHARE_REFORM = "2006-02-27";

/**
 * The 2006 share reform as baostock adjusts it: only the company's own capital-reserve transfer of
 * 0.8589 shares per 10 to every holder, not the 1.7374 shares per 10 the non-tradable holders
 * paid the tradable ones (TDX's 2.5963 is the two summed). baostock's pre-close that day, 7.07,
 * is 7.68 / 1.08589 to the fen; TDX's full event would give 6.10.
 */
const asBaostock = held.map((action) => (action.date === SHARE_REFORM ? { date: SHARE_REFORM, bonus: 0.08589 } : action));

/** baostock's qfq: raw x (F / F_latest) rounded to 6 decimals, printed to 10: a product of decimals, exact. */
function baostockQfq(factors: readonly AdjustmentFactor[]): Bar[] {
  const latest = factors.at(-1)!.factor;
  // As back factors these need their own row for the days before the first ex-date (1 / latest, not 1).
  const foreFactors = [{ ...factors[0]!, date: dateOf(raw[0]!), factor: 1 }, ...factors]
    .map((row) => ({ ...row, factor: roundHalfUp(row.factor / latest, 6) }));
  return adjustBars(raw, foreFactors, { mode: "hfq", timeZone: SHANGHAI }).map((bar) => {
    const printed = { ...bar };
    for (const field of PRICE_FIELDS) printed[field] = roundHalfUp(bar[field]!, 10);
    return printed;
  });
}

/** The dates (with the field) where `adjusted` is not baostock's printed price, over the overlap. */
function mismatchesWithBaostock(adjusted: readonly Bar[]): string[] {
  const wrong: string[] = [];
  adjusted.forEach((bar) => {
    const vendor = vendorQfq.get(dateOf(bar));
    if (!vendor) return;
    for (const field of PRICE_FIELDS) if (bar[field] !== vendor[field]) wrong.push(`${dateOf(bar)} ${field}`);
  });
  return wrong;
}

describe("baostock's qfq of 600036 from its raw prices and the TDX events (factors computed here)", () => {
  const overlap = raw.filter((bar) => vendorQfq.has(dateOf(bar))).length;
  const factors = factorsFromActions(asBaostock, previousCloseIn(raw), { knownAt: 0 });

  test("the overlap is 2005-01-04..2020-08-24: 3,802 days", () => {
    expect(overlap).toBe(3802);
  });

  test("every price of the overlap to baostock's 10 printed decimals, with the share reform as baostock takes it", () => {
    expect(mismatchesWithBaostock(baostockQfq(factors))).toEqual([]);
  });

  test("qfq read straight (no rounded ratio) is within raw x 5e-7 of baostock: the size of its 6-decimal ratio", () => {
    const qfq = adjustBars(raw, factors, { mode: "qfq", timeZone: SHANGHAI });
    let worst = 0;
    for (const bar of qfq) {
      const vendor = vendorQfq.get(dateOf(bar));
      if (!vendor) continue;
      const rawClose = raw.find((r) => r.timestamp === bar.timestamp)!.close!;
      const error = Math.abs(bar.close! - vendor.close);
      expect(error).toBeLessThanOrEqual(rawClose * 5e-7 + 1e-10);
      worst = Math.max(worst, error);
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1.5e-5); // 1.43e-5 on this file
  });

  test("TDX's full share-reform event (2.5963 per 10) moves every day before 2006-02-27 by one constant ratio, and none after", () => {
    const full = factorsFromActions(held, previousCloseIn(raw), { knownAt: 0 });
    const adjusted = baostockQfq(full);
    const wrongDates = new Set(mismatchesWithBaostock(adjusted).map((entry) => entry.slice(0, 10)));
    const before = raw.filter((bar) => dateOf(bar) < SHARE_REFORM).map(dateOf);
    expect([...wrongDates]).toEqual(before);
    expect(before.length).toBe(273);
    // The ratio is TDX's 7.68 / 6.10 over baostock's 7.68 / 7.07, to the 6-decimal ratios' rounding.
    for (const [index, date] of before.entries()) expect(vendorQfq.get(date)!.close / adjusted[index]!.close!).toBeCloseTo(7.07 / 6.10, 4);
  });

  test("the reference price is rounded to the fen: unrounded, the two rights issues (2010, 2013) break every earlier day", () => {
    const unrounded = factorsFromActions(asBaostock, previousCloseIn(raw), { knownAt: 0, priceDecimals: 12 });
    const wrongDates = new Set(mismatchesWithBaostock(baostockQfq(unrounded)).map((entry) => entry.slice(0, 10)));
    expect([...wrongDates].at(-1)! < "2013-09-05").toBe(true);
    console.log("UNROUNDED", wrongDates.size, [...wrongDates].at(-1), mismatchesWithBaostock(baostockQfq(unrounded)).length);
    expect(wrongDates.size).toBeGreaterThan(1000);
    // 2010-03-15: (16.12 + 8.85 x 0.13) / 1.13 = 15.283628..., published (and in baostock) as 15.28.
    expect(referencePrice(16.12, { date: "2010-03-15", rights: 0.13, rightsPrice: 8.85 })).toBeCloseTo(15.283628, 6);
    expect(roundHalfUp(referencePrice(10.66, { date: "2013-09-05", rights: 0.174, rightsPrice: 9.29 }), 2)).toBe(10.46);
  });
});

test("Tushare's factor steps are the reference price's ratio, the factor rounded to 4 decimals", async () => {
  // China Merchants Bank paid 1.972 yuan a share (ex 2024-07-11) and 2.00 (ex 2025-07-11); Tushare's
  // own pre_close on those days (32.71, 46.24) is the reference price of exactly those amounts.
  const days = await readTushareFactors();
  const close = (date: string) => [...days].reverse().find((day) => day.date < date)!.raw.close;
  const actions: CorporateAction[] = [{ date: "2024-07-11", cash: 1.972 }, { date: "2025-07-11", cash: 2 }];
  const ours = factorsFromActions(actions, close, { knownAt: 0 });
  const before = days.find((day) => day.date === "2024-07-10")!.factor; // 5.714
  const tushare = (date: string) => days.find((day) => day.date === date)!.factor;
  expect(roundHalfUp(before * ours[0]!.factor, 4)).toBe(tushare("2024-07-11"));
  expect(roundHalfUp(tushare("2024-07-11") * (ours[1]!.factor / ours[0]!.factor), 4)).toBe(tushare("2025-07-11"));
});

test("factors are the running product of the ratios, ascending by date whatever the input order", () => {
  const closes: Record<string, number> = { "2024-01-10": 10, "2024-06-10": 20 };
  const factors = factorsFromActions(
    [{ date: "20240610", bonus: 1 }, { date: "2024-01-10", cash: 0.5 }],
    (date) => closes[date] ?? null,
    { knownAt: 123, source: "exchange" },
  );
  expect(factors).toEqual([
    { date: "2024-01-10", factor: 10 / 9.5, knownAt: 123, source: "exchange" },
    { date: "2024-06-10", factor: (10 / 9.5) * 2, knownAt: 123, source: "exchange" },
  ]);
});

describe("bad input", () => {
  test("each bad action is named with its field", () => {
    const issues = issuesOf(() => validateActions([
      { date: "2024-07-11", cash: -0.1 },
      { date: "2024-07-12", bonus: Number.NaN },
      { date: "2024-07-15", rights: 0.3 },
      { date: "2024-07-16", rightsPrice: 8 },
      { date: "2024-07-17" },
      { date: "2024-13-01", cash: 1 },
      { date: "2024-07-18", cash: 1, dividend: 1 },
      { date: "2024-07-19", cash: 1 },
      { date: "20240719", bonus: 1 },
    ]));
    expect(issues.map((issue) => `${issue.row} ${issue.field}`)).toEqual([
      "0 cash", "1 bonus", "2 rightsPrice", "3 rights", "4 undefined", "5 date", "6 dividend", "8 date",
    ]);
    expect(issues[0]!.message).toContain(">= 0");
    expect(issues.at(-1)!.message).toContain("row 7 has the same ex-date 2024-07-19");
  });

  test("actions whose factor cannot be computed are named: no previous close, a rights price above ten closes, cash above the close", () => {
    const issues = issuesOf(() => factorsFromActions([
      { date: "2003-07-16", cash: 0.12 },
      { date: "2010-03-15", rights: 0.13, rightsPrice: 885 },
      { date: "2012-06-07", cash: 42 },
      { date: "2013-06-13", cash: 0.63 },
    ], previousCloseIn(raw), { knownAt: 0 }));
    expect(issues.map((issue) => `${issue.row} ${issue.field}`)).toEqual(["0 date", "1 rightsPrice", "2 cash"]);
    expect(issues[0]!.message).toContain("no previous close before ex-date 2003-07-16");
    expect(issues[1]!.message).toContain("above 10 times the previous close 16.12");
  });

  test("bad options are named before any action is read", () => {
    const fields = issuesOf(() => factorsFromActions([{ date: "2024-07-11", cash: 1 }], () => 10, { knownAt: 1.5, source: "", priceDecimals: -1 }))
      .map((issue) => issue.field);
    expect(fields).toEqual(["knownAt", "source", "priceDecimals"]);
  });
});
