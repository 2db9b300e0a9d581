/**
 * Adjustment files: adjustment factors and corporate actions as vendors export them, read into
 * the rows `store.adjustments.insert` and `insertActions` take, per symbol. The layout is told by
 * the header (case and surrounding space ignored; other columns are named as ignored):
 *
 *   factors  Tushare `adj_factor`          ts_code, trade_date, adj_factor
 *            tradelite's own               [symbol,] date, factor[, known_at][, source]
 *   actions  TDX ex-rights events (gbbq)   market, code, date, category, cash_per10, rights_price,
 *                                          bonus_transfer_per10, rights_per10 (per 10 shares;
 *                                          only category 1, 除权除息, is an ex-rights event;
 *                                          market 1 is SH, 0 SZ, 2 BJ)
 *            Tushare `dividend`            ts_code, ex_date, cash_div_tax, stk_div, div_proc
 *                                          (per share; only rows whose div_proc is 实施, carried
 *                                          out, with an ex_date: the others are plans)
 *            tradelite's own               [symbol,] date, cash, bonus, rights, rights_price
 *                                          (per share; empty is 0)
 *
 * Tushare's symbols are its `ts_code` (600036.SH); TDX's are the code with the market's suffix.
 * A file without a symbol column needs one from the caller. Dates are YYYY-MM-DD or YYYYMMDD.
 * Rows skipped on purpose are counted with the reason; a row that cannot be read fails the whole
 * file, naming its line and column (nothing is half-imported).
 */
import Papa from "papaparse";
import type { CorporateAction } from "../domain/corporate-action.ts";
import { ValidationError, type Issue } from "../domain/errors.ts";
import { decodeText } from "./text.ts";

/** A factor row as store.adjustments.insert takes it. */
export interface FactorRow {
  date: string;
  factor: number;
  knownAt?: string;
  source?: string;
}

export type AdjustmentFileLayout = "tushare-adj_factor" | "factors" | "tdx-xdxr" | "tushare-dividend" | "actions";

export interface AdjustmentFile {
  kind: "factors" | "actions";
  layout: AdjustmentFileLayout;
  /** The encoding the text was read in: UTF-8, or GBK when it is not UTF-8 (Chinese Windows exports). */
  encoding: "utf-8" | "gbk";
  /** Rows per symbol, in file order (`factors` for a factor file, `actions` for an actions file). */
  factors: Map<string, FactorRow[]>;
  actions: Map<string, CorporateAction[]>;
  /** Rows left out on purpose: a plan that was not carried out, a share change that is no ex-rights event. */
  skipped: { line: number; reason: string }[];
  /** Header names read for nothing. */
  ignored: string[];
}

export interface AdjustmentFileOptions {
  /** The text's encoding; omitted, UTF-8, or GBK when the bytes are not UTF-8. */
  encoding?: "utf-8" | "gbk";
  /** The symbol of a file without a symbol column; with one, a row naming another symbol is refused. */
  symbol?: string;
}

interface Layout {
  name: AdjustmentFileLayout;
  kind: "factors" | "actions";
  /** Columns the layout needs, and those it reads when present. */
  required: string[];
  optional: string[];
  /** What a row is, or null for a row skipped on purpose (with the reason pushed). */
  read(row: RowReader): { symbol: string | null; factor?: FactorRow; action?: CorporateAction } | string;
}

const TDX_MARKETS: Record<string, string> = { "0": "SZ", "1": "SH", "2": "BJ" };
const CARRIED_OUT = "实施";
/** Tushare's other stages of a dividend: plans and plans that were dropped. */
const PLAN_STAGES = new Set(["预案", "董事会预案", "股东大会通过", "未通过", "停止实施", "取消"]);

const LAYOUTS: readonly Layout[] = [
  {
    name: "tushare-adj_factor",
    kind: "factors",
    required: ["ts_code", "trade_date", "adj_factor"],
    optional: [],
    read: (row) => ({ symbol: row.text("ts_code"), factor: { date: row.date("trade_date"), factor: row.number("adj_factor") } }),
  },
  {
    name: "factors",
    kind: "factors",
    required: ["date", "factor"],
    optional: ["symbol", "known_at", "source"],
    read: (row) => {
      const factor: FactorRow = { date: row.date("date"), factor: row.number("factor") };
      const knownAt = row.optionalText("known_at");
      const source = row.optionalText("source");
      if (knownAt !== null) factor.knownAt = knownAt;
      if (source !== null) factor.source = source;
      return { symbol: row.optionalText("symbol"), factor };
    },
  },
  {
    name: "tdx-xdxr",
    kind: "actions",
    required: ["market", "code", "date", "category", "cash_per10", "rights_price", "bonus_transfer_per10", "rights_per10"],
    optional: [],
    read: (row) => {
      const category = row.text("category");
      if (category !== "1") return `category ${category} is a share change, not an ex-rights event (category 1)`;
      const market = TDX_MARKETS[row.text("market")];
      if (market === undefined) row.fail("market", `expected 0 (SZ), 1 (SH) or 2 (BJ), got ${JSON.stringify(row.text("market"))}`);
      return {
        symbol: `${row.text("code")}.${market}`,
        action: actionOf(row.date("date"), row.perTen("cash_per10"), row.perTen("bonus_transfer_per10"), row.perTen("rights_per10"), row.number("rights_price")),
      };
    },
  },
  {
    name: "tushare-dividend",
    kind: "actions",
    required: ["ts_code", "ex_date", "cash_div_tax", "stk_div", "div_proc"],
    optional: [],
    read: (row) => {
      const stage = row.text("div_proc");
      if (stage !== CARRIED_OUT && !PLAN_STAGES.has(stage)) {
        // GBK's bytes for 实施 are also valid UTF-8 (ʵʩ): a stage nobody writes is a file read in the wrong encoding, not a plan.
        row.fail("div_proc", `${JSON.stringify(stage)} is not a stage Tushare writes (${CARRIED_OUT}, ${[...PLAN_STAGES].join(", ")}): a GBK file read as UTF-8? give the encoding (--encoding gbk)`);
      }
      if (stage !== CARRIED_OUT) return `div_proc ${stage}: a plan, not carried out (${CARRIED_OUT})`;
      if (row.text("ex_date") === "") return "carried out without an ex_date";
      return { symbol: row.text("ts_code"), action: actionOf(row.date("ex_date"), row.number("cash_div_tax", 0), row.number("stk_div", 0), 0, 0) };
    },
  },
  {
    name: "actions",
    kind: "actions",
    required: ["date", "cash", "bonus", "rights", "rights_price"],
    optional: ["symbol"],
    read: (row) => ({
      symbol: row.optionalText("symbol"),
      action: actionOf(row.date("date"), row.number("cash", 0), row.number("bonus", 0), row.number("rights", 0), row.number("rights_price", 0)),
    }),
  },
];

/** A corporate action with only the amounts that are there (validateActions refuses an empty one). */
function actionOf(date: string, cash: number, bonus: number, rights: number, rightsPrice: number): CorporateAction {
  const action: CorporateAction = { date };
  if (cash !== 0) action.cash = cash;
  if (bonus !== 0) action.bonus = bonus;
  if (rights !== 0) action.rights = rights;
  if (rightsPrice !== 0) action.rightsPrice = rightsPrice;
  return action;
}

class RowFailure extends Error {
  constructor(readonly issue: Issue) {
    super(issue.message);
  }
}

const DATE = /^(\d{4})-?(\d{2})-?(\d{2})$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

class RowReader {
  fields: string[] = [];
  line = 0;
  constructor(private readonly columns: ReadonlyMap<string, number>) {}

  fail(column: string, message: string): never {
    throw new RowFailure({ row: this.line, field: column, message });
  }
  text(column: string): string {
    return (this.fields[this.columns.get(column)!] ?? "").trim();
  }
  optionalText(column: string): string | null {
    if (!this.columns.has(column)) return null;
    const text = this.text(column);
    return text === "" ? null : text;
  }
  date(column: string): string {
    const match = DATE.exec(this.text(column));
    if (!match) this.fail(column, `expected a date (YYYY-MM-DD or YYYYMMDD), got ${JSON.stringify(this.text(column))}`);
    return `${match[1]}-${match[2]}-${match[3]}`;
  }
  /** A plain decimal; an empty cell is `empty` when given, else refused. */
  number(column: string, empty?: number): number {
    const text = this.text(column);
    if (text === "" && empty !== undefined) return empty;
    if (!DECIMAL.test(text)) this.fail(column, `expected a number, got ${JSON.stringify(text)}`);
    return Number(text);
  }
  /**
   * An amount per 10 shares as an amount per share, by moving the decimal's exponent: 7.19 per 10
   * is exactly the 0.719 a person writes, where 7.19 / 10 is 0.7190000000000001.
   */
  perTen(column: string): number {
    this.number(column);
    const [mantissa, exponent = "0"] = this.text(column).split(/[eE]/);
    return Number(`${mantissa}e${Number(exponent) - 1}`);
  }
}

function describeLayouts(): string {
  return LAYOUTS.map((layout) => `${layout.name} (${layout.required.join(", ")})`).join("; ");
}

/**
 * Reads an adjustment file's bytes, or throws a ValidationError naming the header's problem or
 * every row that cannot be read (line numbers count the header as line 1).
 */
export function readAdjustmentFile(bytes: Uint8Array, options: AdjustmentFileOptions = {}): AdjustmentFile {
  const { text, encoding } = decodeText(bytes, options.encoding);
  if (text.replace(/^\uFEFF/, "").trim() === "") throw new ValidationError([{ field: "file", message: "the file is empty: no header row" }]);
  const parsed = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: "greedy" });
  const problem = parsed.errors[0];
  if (problem) throw new ValidationError([{ row: (problem.row ?? 0) + 1, field: "file", message: `not CSV: ${problem.message}` }]);
  const [header, ...rows] = parsed.data;
  if (!header) throw new ValidationError([{ field: "file", message: "the file is empty: no header row" }]);
  const names = header.map((name) => name.trim().toLowerCase());
  const columns = new Map<string, number>();
  names.forEach((name, index) => {
    if (!columns.has(name)) columns.set(name, index);
  });
  const layout = LAYOUTS.find((candidate) => candidate.required.every((name) => columns.has(name)));
  if (!layout) {
    throw new ValidationError([{ row: 1, field: "header", message: `no adjustment file layout reads the columns ${names.join(", ")}; expected one of: ${describeLayouts()}` }]);
  }
  const read = new Set([...layout.required, ...layout.optional]);
  const file: AdjustmentFile = {
    kind: layout.kind,
    layout: layout.name,
    encoding,
    factors: new Map(),
    actions: new Map(),
    skipped: [],
    ignored: names.filter((name) => !read.has(name)),
  };
  const issues: Issue[] = [];
  const row = new RowReader(columns);
  rows.forEach((fields, index) => {
    row.fields = fields;
    row.line = index + 2;
    try {
      if (fields.length !== header.length) row.fail("file", `expected ${header.length} fields, got ${fields.length}`);
      const result = layout.read(row);
      if (typeof result === "string") {
        file.skipped.push({ line: row.line, reason: result });
        return;
      }
      const symbol = symbolOf(result.symbol, options.symbol, row);
      if (result.factor) append(file.factors, symbol, result.factor);
      if (result.action) append(file.actions, symbol, result.action);
    } catch (error) {
      if (!(error instanceof RowFailure)) throw error;
      issues.push(error.issue);
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return file;
}

function symbolOf(inFile: string | null, given: string | undefined, row: RowReader): string {
  if (inFile === null || inFile === "") {
    if (given === undefined) row.fail("symbol", "the file names no symbol: give one (--symbol)");
    return given;
  }
  if (given !== undefined && given !== inFile) row.fail("symbol", `the row is ${inFile}, the import is for ${given}`);
  return inFile;
}

function append<T>(map: Map<string, T[]>, symbol: string, value: T): void {
  const rows = map.get(symbol);
  if (rows) rows.push(value);
  else map.set(symbol, [value]);
}
