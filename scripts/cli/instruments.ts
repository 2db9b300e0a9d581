/**
 * `tradelite instruments`: `import FILE` stores a vendor's listing (Tushare stock_basic, AKShare's
 * listings; src/import/instrument-file.ts reads them) in one all-or-nothing call, one audit
 * entry; `list` prints what is stored.
 */
import { readFileSync } from "node:fs";
import { BOARDS, INSTRUMENT_STATUSES, type Board, type Instrument, type InstrumentInput, type InstrumentQuery, type InstrumentStatus } from "../../src/domain/instrument.ts";
import { ValidationError, type Issue } from "../../src/domain/errors.ts";
import { readInstrumentFile } from "../../src/import/instrument-file.ts";
import { CliFailure, EXIT_OK, formatNumber, openCliStore, parseOrHelp, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite instruments import FILE [--json]
       tradelite instruments list [--exchange SH|SZ|BJ] [--board BOARD] [--status STATUS] [--as-of DATE] [--json]

import reads a listing: a Tushare stock_basic file (ts_code, name, market, exchange, list_date,
delist_date, list_status ...) or an AKShare listing (stock_info_a_code_name: code, name;
stock_info_sh_name_code / stock_info_bj_name_code: 证券代码, 证券简称, 上市日期;
stock_info_sz_name_code: 板块, A股代码, A股简称, A股上市日期; stock_zh_a_spot_em: 代码, 名称),
UTF-8 or GBK. Codes are normalized (600519.SH; a bare 000 code is a Shenzhen stock); the board,
lot, tick and price limit come from the code where the file does not say. Every row is stored
in one transaction, one audit entry, or none is (a bad row is named by its line and field).
A name or date the file lacks keeps the one stored (a code-and-name list after stock_basic).
A Tushare row with list_status D gets a delisted status from its delist_date.
list prints the stored instruments: --board is one of ${BOARDS.join(", ")}; --status
(${INSTRUMENT_STATUSES.join(", ")}) is the status in force on --as-of (YYYY-MM-DD, default
today). --json prints the import's summary, or the list, as JSON.

${STORE_USAGE}`;

const ACTIONS = ["import", "list"] as const;

const OPTIONS = {
  ...STORE_OPTIONS,
  json: { type: "boolean" },
  exchange: { type: "string" },
  board: { type: "string" },
  status: { type: "string" },
  "as-of": { type: "string" },
} as const;

/** Issues with the file's line numbers: the reader's rows are lines; the store's (`lines` given) index the file's instruments. */
function onLines(issues: readonly Issue[], lines?: readonly number[]): string {
  return issues.map((issue) => `${issue.row === undefined ? "" : `line ${lines?.[issue.row] ?? issue.row}: `}${issue.field ? `${issue.field}: ` : ""}${issue.message}`).join("\n");
}

async function run(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, OPTIONS, USAGE);
  if (parsed === null) return EXIT_OK;
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  if (action !== "import" && action !== "list") {
    throw new UsageError(action === undefined ? `instruments needs ${ACTIONS.join(" or ")}` : `unknown instruments action ${JSON.stringify(action.slice(0, 40))}`);
  }
  if (action === "import" && rest.length !== 1) throw new UsageError("usage: tradelite instruments import FILE");
  if (action === "list" && rest.length > 0) throw new UsageError("instruments list takes no arguments");
  if (action === "import") {
    for (const flag of ["exchange", "board", "status", "as-of"]) if (text(values, flag) !== undefined) throw new UsageError(`--${flag} goes with instruments list`);
  }
  const query = action === "list" ? listQuery(values) : {};
  let file;
  if (action === "import") {
    try {
      file = readInstrumentFile(readFileSync(rest[0]!));
    } catch (error) {
      if (error instanceof ValidationError) throw new CliFailure(`${rest[0]}: ${onLines(error.issues)}`);
      throw error;
    }
  }
  const store = await openCliStore(storeChoice(values), { existing: action === "list" });
  try {
    if (file) {
      try {
        await store.instruments.put(keepKnown(file.instruments, await store.instruments.list()));
      } catch (error) {
        if (error instanceof ValidationError) throw new CliFailure(`${rest[0]}: nothing stored\n${onLines(error.issues, file.lines)}`);
        throw error;
      }
      for (const [symbol, rows] of file.statuses) await store.instruments.setStatus(symbol, rows);
      const summary = { file: rest[0], vendor: file.vendor, encoding: file.encoding, instruments: file.instruments.length, delisted: file.statuses.size };
      if (values.json) console.log(JSON.stringify(summary));
      else console.log(`${rest[0]}: ${formatNumber(summary.instruments)} instruments stored (${file.vendor}, ${file.encoding}${summary.delisted > 0 ? `; ${summary.delisted} delisted` : ""})`);
      return EXIT_OK;
    }
    const instruments = await store.instruments.list(query);
    if (values.json) console.log(JSON.stringify(instruments));
    else for (const each of instruments) console.log(row(each));
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

/**
 * A listing that lacks a name or a date (AKShare's code-and-name list) does not erase the one a
 * richer listing stored before: those fields are kept. The board's rules are derived again.
 */
function keepKnown(rows: readonly InstrumentInput[], stored: readonly Instrument[]): InstrumentInput[] {
  const bySymbol = new Map(stored.map((each) => [each.symbol, each]));
  return rows.map((row) => {
    const known = bySymbol.get(row.symbol);
    if (!known) return row;
    const kept: InstrumentInput = { ...row };
    for (const field of ["name", "listedDate", "delistedDate"] as const) if (kept[field] === undefined && known[field] !== null) kept[field] = known[field];
    return kept;
  });
}

function listQuery(values: Record<string, string | boolean | undefined>): InstrumentQuery {
  const query: InstrumentQuery = {};
  const exchange = text(values, "exchange");
  const board = text(values, "board");
  const status = text(values, "status");
  const asOf = text(values, "as-of");
  if (exchange !== undefined) query.exchange = exchange.toUpperCase();
  if (board !== undefined) {
    if (!(BOARDS as readonly string[]).includes(board)) throw new UsageError(`--board is one of ${BOARDS.join(", ")}`);
    query.board = board as Board;
  }
  if (status !== undefined) {
    if (!(INSTRUMENT_STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status is one of ${INSTRUMENT_STATUSES.join(", ")}`);
    query.status = status as InstrumentStatus;
  }
  if (asOf !== undefined) query.asOf = asOf;
  return query;
}

function row(each: Instrument): string {
  const listed = each.listedDate ?? "-";
  const limit = each.priceLimitPct === null ? "-" : `${each.priceLimitPct}%`;
  return `${each.symbol.padEnd(12)} ${(each.board ?? "-").padEnd(8)} ${listed.padEnd(10)} ${limit.padStart(4)}  ${each.name ?? ""}`;
}

export const instrumentsCommand: Command = { name: "instruments", summary: "instruments: import a Tushare or AKShare listing, list them", usage: USAGE, options: OPTIONS, actions: ACTIONS, run };
