/**
 * Corporate actions (ex-dividend and ex-rights events) and the adjustment factors computed from
 * them with the exchanges' ex-rights reference price, so a database that holds raw prices and
 * the actions needs no vendor's factors.
 *
 * On an ex-date the exchange publishes a reference price in place of the previous close:
 *
 *   P_ref = (P_prev - cash + rightsPrice x rights) / (1 + bonus + rights)
 *
 * amounts per share (cash dividend, bonus plus transferred shares, rights shares at rightsPrice),
 * rounded half up to the tick (0.01 yuan for A-shares). The day's ratio is P_prev / P_ref; the
 * cumulative back-adjustment factor is the product of the ratios from the first action on (1
 * before the first ex-date), kept unrounded. Why these roundings: see docs/library.md, "Adjusted
 * prices" (they reproduce baostock's series to the digit; rounding P_ref is what makes the two
 * rights issues of 600036 match).
 */
import { forEachRecord, readTradingDate, type AdjustmentFactor } from "./adjustment.ts";
import { ValidationError, type Issue } from "./errors.ts";

/** One ex-date's event, amounts per share (a vendor's "per 10 shares" divided by 10). */
export interface CorporateAction {
  /** The ex-date, YYYY-MM-DD (or YYYYMMDD). */
  date: string;
  /** Cash dividend per share, before tax. */
  cash?: number;
  /** Bonus plus transferred shares per share (送股 + 转增). */
  bonus?: number;
  /** Rights shares offered per share (配股). */
  rights?: number;
  /** The price of a rights share; required with `rights`. */
  rightsPrice?: number;
}

const ACTION_KEYS = ["date", "cash", "bonus", "rights", "rightsPrice"];
const AMOUNT_FIELDS = ["cash", "bonus", "rights", "rightsPrice"] as const;

/** A rights price above the previous close times this is a unit mistake (per 10 shares, fen), not an offer. */
export const RIGHTS_PRICE_LIMIT = 10;

/**
 * Validates corporate actions, or throws a ValidationError naming every bad row and field: a
 * date that is not a real date, an amount that is negative or not finite, rights without a
 * rights price (or a price without rights), an action with no amount, two actions on one date.
 * Returns them with dates as YYYY-MM-DD, in the order given.
 */
export function validateActions(rows: readonly unknown[]): CorporateAction[] {
  const issues: Issue[] = [];
  const actions: CorporateAction[] = [];
  const byDate = new Map<string, number>();
  forEachRecord(rows, "a corporate action { date, cash?, bonus?, rights?, rightsPrice? }", ACTION_KEYS, issues, (record, row) => {
    const issuesBefore = issues.length;
    const action: CorporateAction = { date: readTradingDate(record.date, row, "date", issues) };
    for (const field of AMOUNT_FIELDS) {
      const value = record[field];
      if (value === undefined) continue;
      if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
        issues.push({ row, field, message: `must be a finite number >= 0 per share, got ${String(value)}` });
      } else {
        action[field] = value;
      }
    }
    const rights = action.rights ?? 0;
    if (rights > 0 && !(action.rightsPrice! > 0)) {
      issues.push({ row, field: "rightsPrice", message: "rights shares need their price (rightsPrice > 0)" });
    }
    if (rights === 0 && action.rightsPrice !== undefined && action.rightsPrice > 0) {
      issues.push({ row, field: "rights", message: `a rights price (${action.rightsPrice}) without rights shares: give rights per share` });
    }
    // Said only of an otherwise sound row: a refused amount already explains a missing one.
    if (!((action.cash ?? 0) > 0 || (action.bonus ?? 0) > 0 || rights > 0) && issues.length === issuesBefore) {
      issues.push({ row, message: "no cash, bonus or rights: the action changes no price" });
    }
    const earlier = byDate.get(action.date);
    if (action.date !== "" && earlier !== undefined) {
      issues.push({ row, field: "date", message: `row ${earlier} has the same ex-date ${action.date}: give one action per ex-date with the amounts combined` });
    }
    byDate.set(action.date, row);
    actions.push(action);
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return actions;
}

/**
 * `value` rounded half up to `decimals` places as the decimal number it was written as: 15.285
 * (binary 15.28499...) rounds to 15.29, as an exchange rounding on paper does. Positive values.
 */
export function roundHalfUp(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  // 15 significant digits drop the binary representation error of a product or quotient of a
  // few decimal numbers, which is all a price computation here is.
  return Math.round(Number((value * scale).toPrecision(15))) / scale;
}

/** The exchanges' ex-rights reference price of `action` after a close of `previousClose`, unrounded. */
export function referencePrice(previousClose: number, action: CorporateAction): number {
  const rights = action.rights ?? 0;
  return (previousClose - (action.cash ?? 0) + (action.rightsPrice ?? 0) * rights) / (1 + (action.bonus ?? 0) + rights);
}

export interface FactorsFromActionsOptions {
  /** When the factors became known, epoch ms (default now). */
  knownAt?: number;
  /** The rows' source (default "actions"). */
  source?: string;
  /** Decimals of the reference price, the market's tick: 2 for A-shares (0.01 yuan), 3 for funds (0.001). */
  priceDecimals?: number;
}

/**
 * The cumulative back-adjustment factor of each action's ex-date, ascending by date.
 * `previousClose(date)` answers the raw close of the last trading day before an ex-date, or null
 * when it is not held. Throws a ValidationError naming every action whose factor cannot be
 * computed: no previous close, a rights price above RIGHTS_PRICE_LIMIT times it, or a cash
 * dividend that leaves no positive reference price.
 */
export function factorsFromActions(
  input: readonly CorporateAction[],
  previousClose: (date: string) => number | null,
  options: FactorsFromActionsOptions = {},
): AdjustmentFactor[] {
  const { knownAt = Date.now(), source = "actions", priceDecimals = 2 } = options;
  const optionIssues: Issue[] = [];
  if (!Number.isSafeInteger(knownAt)) optionIssues.push({ field: "knownAt", message: `expected epoch milliseconds, got ${String(knownAt)}` });
  if (!(typeof source === "string" && source.trim() !== "")) optionIssues.push({ field: "source", message: `must be a non-empty string, got ${JSON.stringify(source)}` });
  if (!(Number.isInteger(priceDecimals) && priceDecimals >= 0 && priceDecimals <= 12)) {
    optionIssues.push({ field: "priceDecimals", message: `expected a whole number of decimals from 0 to 12 (2 for a tick of 0.01), got ${String(priceDecimals)}` });
  }
  if (optionIssues.length > 0) throw new ValidationError(optionIssues);
  const actions = validateActions(input);
  const order = actions.map((_, row) => row).sort((a, b) => (actions[a]!.date < actions[b]!.date ? -1 : 1));
  const issues: Issue[] = [];
  const factors: AdjustmentFactor[] = [];
  let factor = 1;
  for (const row of order) {
    const action = actions[row]!;
    const close = previousClose(action.date);
    if (close === null || !(Number.isFinite(close) && close > 0)) {
      issues.push({ row, field: "date", message: `no previous close before ex-date ${action.date} (got ${String(close)}): the reference price needs it` });
      continue;
    }
    if ((action.rightsPrice ?? 0) > close * RIGHTS_PRICE_LIMIT) {
      issues.push({ row, field: "rightsPrice", message: `${action.rightsPrice} is above ${RIGHTS_PRICE_LIMIT} times the previous close ${close}: per share, in yuan?` });
      continue;
    }
    const reference = roundHalfUp(referencePrice(close, action), priceDecimals);
    if (!(reference > 0)) {
      issues.push({ row, field: "cash", message: `cash ${action.cash} per share leaves no positive reference price after a close of ${close}: per share, in yuan?` });
      continue;
    }
    factor *= close / reference;
    factors.push({ date: action.date, factor, knownAt, source });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return factors;
}
