/**
 * normalizeSymbol: one spelling for an A-share code, `600519.SH`. The vendors spell one security
 * a dozen ways (Tushare `600519.SH`, baostock `sh.600519`, JoinQuant and RiceQuant `600519.XSHG`,
 * terminals `SH600519` or a bare `600519`); a database that normalizes (the `normalizeSymbols`
 * setting) stores and reads every one of them as the same key.
 *
 * Accepted: a six-digit code, alone or with an exchange as a prefix (`sh`, `sh.`, `SH`) or a
 * suffix (`.SH`, `.sh`, `.XSHG`), for SH (Shanghai), SZ (Shenzhen) and BJ (Beijing). Anything else
 * is a ValidationError that says what was expected: nothing is guessed or coerced.
 *
 * The exchange of a bare code comes from its prefix (EXCHANGE_OF_PREFIX, the exchanges' own
 * code allocation):
 *   SH  600 601 603 605 main board; 688 689 STAR; 50 51 52 56 58 funds (ETFs, LOFs); 900 B shares
 *   SZ  000 001 002 003 main board; 300 301 ChiNext; 15 16 18 funds; 200 B shares; 399 indices
 *   BJ  43 83 87 88 920 (the BSE's stocks; 4xxxxx and 8xxxxx moved to 920xxx from 2024)
 * A bare 000xxx is refused: it is a Shenzhen stock (000001 Ping An Bank) and a Shanghai index
 * (000001 the SSE Composite) at once. Give the exchange (`000001.SZ`, `sh000001`), or say what
 * bare 000 codes mean for the whole call with `{ index: false }` (stocks, SZ) or
 * `{ index: true }` (indices, SH). A code whose exchange is written out keeps it unless the
 * table gives its prefix to another exchange: `600519.SZ` is refused, `000300.SH` (an index) and
 * `113050.SH` (a convertible bond, a prefix the table leaves out) are taken as written.
 */
import { ValidationError } from "./errors.ts";

export const EXCHANGES = ["SH", "SZ", "BJ"] as const;
export type Exchange = (typeof EXCHANGES)[number];

export interface NormalizeSymbolOptions {
  /**
   * What a bare 000xxx means: false, a Shenzhen stock (000001.SZ); true, a Shanghai index
   * (000001.SH). Left out, a bare 000xxx is refused as ambiguous.
   */
  index?: boolean;
  /** The field an error names (default `symbol`). */
  field?: string;
  /** The row an error names, for a batch. */
  row?: number;
}

/** Code prefixes and the one exchange each belongs to; the longest prefix that matches wins. */
export const EXCHANGE_OF_PREFIX: Readonly<Record<string, Exchange>> = {
  "600": "SH", "601": "SH", "603": "SH", "605": "SH", "688": "SH", "689": "SH", "900": "SH",
  "50": "SH", "51": "SH", "52": "SH", "56": "SH", "58": "SH",
  "001": "SZ", "002": "SZ", "003": "SZ", "300": "SZ", "301": "SZ", "200": "SZ", "399": "SZ",
  "15": "SZ", "16": "SZ", "18": "SZ",
  "43": "BJ", "83": "BJ", "87": "BJ", "88": "BJ", "920": "BJ",
};

/** The vendors' names of the exchanges, upper-cased: Tushare's and baostock's, then the MIC-like ones. */
const EXCHANGE_NAMES: Readonly<Record<string, Exchange>> = { SH: "SH", SZ: "SZ", BJ: "BJ", XSHG: "SH", XSHE: "SZ", BSE: "BJ" };

// `sh600519`, `SH.600519`; `600519.SH`, `600519.XSHG`; `600519`. Case is ignored for the exchange.
const PREFIXED = /^([A-Za-z]{2})\.?(\d{6})$/;
const SUFFIXED = /^(\d{6})\.([A-Za-z]{2,4})$/;
const BARE = /^\d{6}$/;

/** The exchange a code's prefix allocates it to; "000" for the ambiguous 000xxx; undefined when unknown. */
export function exchangeOfCode(code: string): Exchange | "000" | undefined {
  if (code.startsWith("000")) return "000";
  return EXCHANGE_OF_PREFIX[code.slice(0, 3)] ?? EXCHANGE_OF_PREFIX[code.slice(0, 2)];
}

function refuse(input: unknown, message: string, options: NormalizeSymbolOptions | undefined): never {
  const shown = typeof input === "string" ? JSON.stringify(input.slice(0, 40)) : String(input);
  throw new ValidationError([{ ...(options?.row === undefined ? {} : { row: options.row }), field: options?.field ?? "symbol", message: `${shown}: ${message}` }]);
}

const EXPECTED = "expected an A-share code: six digits, alone or with the exchange (600519.SH, sh600519, sh.600519, 600519.XSHG)";

/**
 * `600519`, `sh600519`, `SH600519`, `sh.600519`, `600519.XSHG`, `600519.sh`, `600519.SH` ->
 * `600519.SH`; likewise SZ (`.XSHE`, `sz`) and BJ (`.BJ`, `bj`). Throws a ValidationError naming
 * the input and what was expected; idempotent (a normalized symbol normalizes to itself).
 */
export function normalizeSymbol(input: string, options?: NormalizeSymbolOptions): string {
  if (typeof input !== "string") refuse(input, `expected a string, got ${typeof input}`, options);
  let code: string;
  let named: string | undefined;
  let match: RegExpExecArray | null;
  if ((match = SUFFIXED.exec(input))) [, code, named] = match as unknown as [string, string, string];
  else if ((match = PREFIXED.exec(input))) [, named, code] = match as unknown as [string, string, string];
  else if (BARE.test(input)) code = input;
  else refuse(input, EXPECTED, options);
  const allocated = exchangeOfCode(code);
  if (named === undefined) {
    if (allocated === "000") {
      if (options?.index === undefined) {
        refuse(
          input,
          `a bare 000 code is ambiguous: ${code}.SZ is a Shenzhen stock and ${code}.SH a Shanghai index; ` +
            `give the exchange (${code}.SZ, sz${code}, ${code}.SH) or say { index: false } for stocks, { index: true } for indices`,
          options,
        );
      }
      return `${code}.${options.index ? "SH" : "SZ"}`;
    }
    if (allocated === undefined) refuse(input, `no exchange allocates the prefix ${code.slice(0, 3)} to a stock or fund; give the exchange (${code}.SH, ${code}.SZ or ${code}.BJ)`, options);
    return `${code}.${allocated}`;
  }
  const exchange = EXCHANGE_NAMES[named.toUpperCase()];
  if (exchange === undefined) refuse(input, `unknown exchange ${JSON.stringify(named)}; expected SH (XSHG), SZ (XSHE) or BJ`, options);
  if (allocated === "000" ? exchange === "BJ" : allocated !== undefined && allocated !== exchange) {
    refuse(input, `${code} is a code of ${allocated === "000" ? "SZ (stocks) or SH (indices)" : allocated}, not ${exchange}`, options);
  }
  return `${code}.${exchange}`;
}

/** The exchange of a normalized symbol (`600519.SH` -> `SH`). */
export function exchangeOfSymbol(normalized: string): Exchange {
  return normalized.slice(7) as Exchange;
}
