/**
 * Vendors' listing files as instruments: Tushare `stock_basic` and AKShare's listings
 * (`stock_info_a_code_name`, `stock_info_sh_name_code`, `stock_info_sz_name_code`,
 * `stock_info_bj_name_code`, `stock_zh_a_spot_em`). A listing is a few thousand rows, so it is
 * read whole: UTF-8 when the bytes are UTF-8, else GBK (Chinese Windows exports), else refused.
 *
 * Columns (first spelling that the header has wins; case and surrounding space ignored):
 *   code      ts_code, code, 代码, 证券代码, a股代码, 股票代码
 *   name      name, 名称, 证券简称, a股简称, 股票简称
 *   listed    list_date, 上市日期, a股上市日期
 *   delisted  delist_date, 退市日期
 *   board     market (Tushare: 主板, 创业板, 科创板, 北交所, CDR), 板块 (AKShare SZ: 主板, 创业板)
 *   exchange  exchange (Tushare: SSE, SZSE, BSE)
 *   status    list_status (Tushare: L listed, D delisted, P suspended from listing, G pending)
 * A listing lists stocks, so a bare 000xxx code is a Shenzhen stock ({ index: false }); an
 * exchange column decides the exchange where there is one. A bad row is a ValidationError naming
 * its line and field: the caller writes nothing.
 */
import Papa from "papaparse";
import { ValidationError, type Issue } from "../domain/errors.ts";
import type { Board, InstrumentInput, InstrumentStatusRow } from "../domain/instrument.ts";
import { normalizeSymbol } from "../domain/instrument-symbol.ts";
import type { Encoding } from "./bar-file.ts";
import { decodeText } from "./text.ts";

type Column = "code" | "name" | "listed" | "delisted" | "board" | "exchange" | "status";

const SPELLINGS: Record<Column, readonly string[]> = {
  code: ["ts_code", "code", "代码", "证券代码", "a股代码", "股票代码"],
  name: ["name", "名称", "证券简称", "a股简称", "股票简称"],
  listed: ["list_date", "上市日期", "a股上市日期"],
  delisted: ["delist_date", "退市日期"],
  board: ["market", "板块"],
  exchange: ["exchange"],
  status: ["list_status"],
};

/** The vendors' board names; a name not here (CDR, 中小板 before 2021) leaves the board to the code. */
const BOARD_NAMES: Readonly<Record<string, Board>> = { 主板: "main", 创业板: "chinext", 科创板: "star", 北交所: "bse" };
const EXCHANGE_NAMES: Readonly<Record<string, string>> = { SSE: "SH", SZSE: "SZ", BSE: "BJ" };

export interface InstrumentFile {
  /** `tushare` or `akshare`, as the header says. */
  vendor: "tushare" | "akshare";
  encoding: Encoding;
  instruments: InstrumentInput[];
  /** Status rows the file implies (Tushare: delisted from delist_date), by symbol. */
  statuses: Map<string, InstrumentStatusRow[]>;
  /** The line of each instrument (instruments[i] came from lines[i]), for errors found later. */
  lines: number[];
}


/** A listing's date (`20010827`, `2001-08-27`, `2001/08/27`) as YYYY-MM-DD, or null for an empty cell. */
function dateOf(value: string): string | null {
  const text = value.trim();
  if (text === "" || text.toLowerCase() === "nan" || text === "-") return null;
  // pandas writes a datetime column as `2001-08-27 00:00:00`.
  return text.replace(/^(\d{4})[/-](\d{2})[/-](\d{2})(?: 00:00:00)?$/, "$1-$2-$3");
}

/** Reads a listing file into instruments, or throws a ValidationError naming every bad line and field. */
export function readInstrumentFile(bytes: Uint8Array): InstrumentFile {
  const { text, encoding } = decodeText(bytes);
  const parsed = Papa.parse<string[]>(text.replace(/^\uFEFF/, ""), { skipEmptyLines: "greedy" });
  const [header, ...rows] = parsed.data;
  if (!header) throw new ValidationError([{ message: "the file is empty: no header row" }]);
  const names = header.map((name) => name.trim().toLowerCase());
  const at = {} as Record<Column, number>;
  for (const column of Object.keys(SPELLINGS) as Column[]) at[column] = SPELLINGS[column].map((name) => names.indexOf(name)).find((i) => i >= 0) ?? -1;
  if (at.code < 0) {
    throw new ValidationError([{ field: "header", message: `no code column; a Tushare stock_basic file has ts_code, an AKShare listing code, 代码, 证券代码 or A股代码 (the header has ${header.slice(0, 12).join(", ")})` }]);
  }
  const vendor = names.includes("ts_code") ? "tushare" : "akshare";
  const issues: Issue[] = [];
  const instruments: InstrumentInput[] = [];
  const lines: number[] = [];
  const statuses = new Map<string, InstrumentStatusRow[]>();
  rows.forEach((cells, i) => {
    const line = i + 2;
    const cell = (column: Column) => (at[column] >= 0 ? (cells[at[column]] ?? "").trim() : "");
    const exchange = EXCHANGE_NAMES[cell("exchange").toUpperCase()];
    const code = cell("code");
    let symbol: string;
    try {
      // A bare code with an exchange column: the exchange decides (a Tushare row always has both).
      symbol = normalizeSymbol(exchange && /^\d{6}$/.test(code) ? `${code}.${exchange}` : code, { index: false, row: line, field: names[at.code] });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues.map((issue) => ({ ...issue, row: line })));
      return;
    }
    const instrument: InstrumentInput = { symbol };
    const name = cell("name");
    if (name !== "") instrument.name = name;
    const board = BOARD_NAMES[cell("board")];
    if (board) instrument.board = board;
    const listed = dateOf(cell("listed"));
    if (listed) instrument.listedDate = listed;
    const delisted = dateOf(cell("delisted"));
    if (delisted) instrument.delistedDate = delisted;
    if (cell("status") === "D") {
      if (!delisted) issues.push({ row: line, field: "delist_date", message: `${symbol} is delisted (list_status D) without a delist_date` });
      else statuses.set(symbol, [{ date: delisted, status: "delisted" }]);
    }
    instruments.push(instrument);
    lines.push(line);
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return { vendor, encoding, instruments, statuses, lines };
}
