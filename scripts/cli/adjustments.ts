/**
 * `tradelite adjustments`: a symbol's adjustment factors and corporate actions. `import FILE`
 * stores a vendor's factors or the actions tradelite computes factors from
 * (src/import/adjustment-file.ts names the layouts), `list SYMBOL` prints them.
 */
import { readFileSync } from "node:fs";
import { readAdjustmentFile, type AdjustmentFile } from "../../src/import/adjustment-file.ts";
import { validateFactors, type AdjustmentFactor } from "../../src/domain/adjustment.ts";
import { validateActions } from "../../src/domain/corporate-action.ts";
import { exDateWarnings } from "../../src/domain/adjustment-writes.ts";
import { ValidationError, type Store } from "../../src/mod.ts";
import { assertCliSymbol, CliFailure, EXIT_OK, formatNumber, formatTime, openCliStore, parseOrHelp, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite adjustments import FILE [--symbol SYMBOL] [--encoding utf-8|gbk] [--known-at T]
                                      [--source NAME] [--from DATE] [--create-instruments] [--json]
       tradelite adjustments list SYMBOL [--as-of T] [--actions] [--json]

Prices are stored raw; reads adjust them by the symbol's factors (export --adjust qfq|hfq,
GET /v1/bars/SYMBOL?adjust=qfq). import reads, by its header:
  factors  Tushare adj_factor (ts_code, trade_date, adj_factor), or date, factor[, known_at][, source]
  actions  TDX ex-rights events (market, code, date, category, cash_per10, rights_price,
           bonus_transfer_per10, rights_per10), Tushare dividend (ts_code, ex_date, cash_div_tax,
           stk_div, div_proc: carried-out rows only), or date, cash, bonus, rights, rights_price
           per share; tradelite computes the factors from the raw closes it holds
A file without a symbol column needs --symbol. Every symbol in the file must be known (an
instrument, or stored bars), unless --create-instruments stores an instrument for each new one.
Each symbol's rows are checked before anything is written, then written in one transaction
(audited); a file of several symbols is written symbol by symbol. Factors are known from their
ex-date unless --known-at says when they became known (a correction is a new, later row).
Actions need the raw close before their ex-date: a file whose events start before the stored
bars (TDX's go back to the listing) is refused naming them, unless --from DATE leaves out the
rows before DATE (counted as skipped; back-adjusted prices then start from there).
list prints a symbol's factors (--as-of: those known then) or, with --actions, its actions.

${STORE_USAGE}`;

const ACTIONS = ["import", "list"] as const;

const OPTIONS = {
  ...STORE_OPTIONS,
  symbol: { type: "string" },
  encoding: { type: "string" },
  "known-at": { type: "string" },
  from: { type: "string" },
  source: { type: "string" },
  "create-instruments": { type: "boolean" },
  "as-of": { type: "string" },
  actions: { type: "boolean" },
  json: { type: "boolean" },
} as const;

async function run(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, USAGE);
  if (parsed === null) return EXIT_OK;
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(action === undefined ? `adjustments needs ${ACTIONS.join(" or ")}` : `unknown adjustments action ${JSON.stringify(action.slice(0, 40))}`);
  }
  if (rest.length !== 1) throw new UsageError(`usage: tradelite adjustments ${action} ${action === "import" ? "FILE" : "SYMBOL"}`);
  if (action === "import") {
    const encoding = text(values, "encoding");
    if (encoding !== undefined && encoding !== "utf-8" && encoding !== "gbk") throw new UsageError(`--encoding is utf-8 or gbk, got ${JSON.stringify(encoding.slice(0, 20))}`);
    const symbol = text(values, "symbol");
    if (symbol !== undefined) assertCliSymbol(symbol, "--symbol");
    const from = text(values, "from");
    if (from !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(from)) throw new UsageError(`--from is a date, YYYY-MM-DD, got ${JSON.stringify(from.slice(0, 20))}`);
    const file = readAdjustmentFile(readFileSync(rest[0]!), { ...(symbol === undefined ? {} : { symbol }), ...(encoding === undefined ? {} : { encoding }) });
    if (from !== undefined) leaveOutBefore(file, from);
    const store = await openCliStore(storeChoice(values), { existing: true });
    try {
      return await importFile(store, file, rest[0]!, values);
    } finally {
      await store.close();
    }
  }
  for (const name of ["symbol", "encoding", "known-at", "source", "from", "create-instruments"]) {
    if (values[name] !== undefined) throw new UsageError(`--${name} is an option of adjustments import`);
  }
  const symbol = rest[0]!;
  assertCliSymbol(symbol);
  const asOf = text(values, "as-of");
  if (asOf !== undefined && values.actions) throw new UsageError("--as-of lists factors; actions are listed whole");
  const store = await openCliStore(storeChoice(values), { existing: true, readonly: true });
  try {
    if (values.actions) {
      const actions = await store.adjustments.listActions(symbol);
      if (values.json) console.log(JSON.stringify(actions));
      else for (const a of actions) console.log(`${a.date}  cash ${a.cash ?? 0}  bonus ${a.bonus ?? 0}  rights ${a.rights ?? 0} at ${a.rightsPrice ?? 0}  known ${formatTime(a.knownAt, store.timezone)}  ${a.source}`);
      return EXIT_OK;
    }
    const factors = await store.adjustments.list(symbol, asOf === undefined ? {} : { asOf });
    if (values.json) console.log(JSON.stringify(factors));
    else for (const f of factors) console.log(`${f.date}  ${String(f.factor).padEnd(20)} known ${formatTime(f.knownAt, store.timezone)}  ${f.source}`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

async function importFile(store: Store, file: AdjustmentFile, path: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const knownAt = text(values, "known-at");
  const source = text(values, "source");
  const rows = file.kind === "factors" ? file.factors : file.actions;
  const symbols = [...rows.keys()];
  if (symbols.length === 0) throw new CliFailure(`${path}: no ${file.kind} to import (${file.skipped.length} rows skipped on purpose)`);
  // Checked whole before anything is written: one symbol's bad row must not leave the others half-imported.
  const issues = symbols.flatMap((symbol) => {
    try {
      if (file.kind === "factors") {
        // The ex-date's midnight stands in for an omitted knownAt: rows of one date without one clash as they would when stored.
        const rows = file.factors.get(symbol)!.map((row) => ({ date: row.date, factor: row.factor, knownAt: knownAt ?? row.knownAt ?? row.date, source: source ?? row.source ?? "manual" }));
        validateFactors(rows, store.timezone);
      } else {
        validateActions(file.actions.get(symbol)!);
      }
      return [];
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return error.issues.map((issue) => ({ ...issue, message: `${symbol}: ${issue.message}` }));
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  const unknown: string[] = [];
  for (const symbol of symbols) if (!(await isKnown(store, symbol))) unknown.push(symbol);
  if (unknown.length > 0 && !values["create-instruments"]) {
    throw new CliFailure(`${path}: unknown symbols (no instrument, no stored bars): ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ""}; check the file, or pass --create-instruments`);
  }
  if (unknown.length > 0) await store.instruments.put(unknown.map((symbol) => ({ symbol })));
  const written: { symbol: string; rows: number; factors: AdjustmentFactor[] | null }[] = [];
  const warnings: string[] = [];
  for (const symbol of symbols) {
    if (file.kind === "factors") {
      const factorRows = file.factors.get(symbol)!.map((row) => ({ ...row, ...(knownAt === undefined ? {} : { knownAt }), ...(source === undefined ? {} : { source }) }));
      written.push({ symbol, rows: await store.adjustments.insert(symbol, factorRows), factors: null });
      warnings.push(...(await exDateWarnings(store.calendars, symbol, factorRows.map((row) => row.date))));
    } else {
      const actions = file.actions.get(symbol)!;
      const factors = await store.adjustments.insertActions(symbol, actions, { ...(knownAt === undefined ? {} : { knownAt }), ...(source === undefined ? {} : { source }) });
      written.push({ symbol, rows: actions.length, factors });
      warnings.push(...(await exDateWarnings(store.calendars, symbol, actions.map((row) => row.date))));
    }
  }
  const summary = {
    file: path,
    layout: file.layout,
    encoding: file.encoding,
    kind: file.kind,
    symbols: written.map(({ symbol, rows: count, factors }) => ({ symbol, rows: count, ...(factors ? { factors: factors.length } : {}) })),
    createdInstruments: unknown,
    warnings,
    skipped: file.skipped,
    ignored: file.ignored,
  };
  for (const warning of warnings) console.error(`warning: ${warning}`);
  if (values.json) {
    console.log(JSON.stringify(summary));
    return EXIT_OK;
  }
  console.log(`${path}: ${file.layout} (${file.encoding}), ${formatNumber(symbols.length)} symbol${symbols.length === 1 ? "" : "s"}`);
  for (const { symbol, rows: count, factors } of written) {
    console.log(`  ${symbol}: ${formatNumber(count)} ${file.kind === "factors" ? "factor rows written (identical rows already stored are skipped)" : `actions, ${factors!.length} factors computed`}`);
  }
  if (unknown.length > 0) console.log(`  instruments created: ${unknown.join(", ")}`);
  if (file.skipped.length > 0) console.log(`  skipped on purpose: ${file.skipped.length} rows (line ${file.skipped[0]!.line}: ${file.skipped[0]!.reason})`);
  if (file.ignored.length > 0) console.log(`  columns ignored: ${file.ignored.join(", ")}`);
  return EXIT_OK;
}

/** Drops the rows dated before `from`, counting them as skipped. */
function leaveOutBefore(file: AdjustmentFile, from: string): void {
  for (const rows of [file.factors, file.actions] as Map<string, { date: string }[]>[]) {
    for (const [symbol, list] of rows) {
      const kept = list.filter((row) => row.date >= from);
      const dropped = list.length - kept.length;
      if (dropped > 0) file.skipped.push({ line: 0, reason: `${symbol}: ${dropped} rows before --from ${from}` });
      if (kept.length > 0) rows.set(symbol, kept);
      else rows.delete(symbol);
    }
  }
}

/** Known: an instrument is stored for it, or bars are. */
async function isKnown(store: Store, symbol: string): Promise<boolean> {
  if (await store.instruments.has(symbol)) return true;
  return (await store.latestBar(symbol)) !== null || (await store.getBars(symbol, { interval: "1d", source: "stored", limit: 1 })).length > 0;
}

export const adjustmentsCommand: Command = {
  name: "adjustments",
  summary: "adjustment factors and corporate actions: import a vendor's file, list",
  usage: USAGE,
  options: OPTIONS,
  actions: ACTIONS,
  run,
};
