/**
 * The vendors' bar files, told apart by their headers: which column holds what, which holds the
 * symbol, and the units their sizes are in. Every profile's sizes become shares and yuan.
 *
 * Layouts (column names as each tool writes them; the real files in ../shared/data/vendor and
 * the fixtures in test/fixtures/vendor say where each comes from):
 *   tushare    `daily` / `pro_bar`: ts_code, trade_date, open, high, low, close, pre_close,
 *              change, pct_chg (older files: pct_change), vol in lots (手), amount in thousands
 *              of yuan (千元). `stk_mins`: ts_code, trade_time, open, close, high, low, vol in
 *              shares, amount in yuan. A whole-market file holds many ts_codes.
 *   akshare    `stock_zh_a_hist`: 日期, 股票代码, 开盘, 收盘, 最高, 最低, 成交量 in lots, 成交额
 *              in yuan, 振幅, 涨跌幅, 涨跌额, 换手率; the minute variants `时间` (or `datetime`)
 *              instead of 日期, and 均价.
 *   baostock   date, time (`20240102093500000` on minute files), code (`sh.600000`), open, high,
 *              low, close, preclose, volume in shares, amount in yuan, adjustflag (1 back-, 2
 *              forward-adjusted, 3 raw), turn, tradestatus, pctChg, isST.
 *   joinquant  get_price written by pandas: the time in the index (an unnamed first column, or
 *              `time`), `code` (`000001.XSHE`) when several, open, close, high, low, volume in
 *              shares, money in yuan.
 *   ricequant  order_book_id (`000001.XSHE`), datetime or date, open, high, low, close, volume
 *              in shares, total_turnover in yuan.
 *   tdx        the terminal's text export (数据导出) and any other file of the common spellings
 *              (bar-file.ts lists them): sizes in shares and yuan, assumed, as the header does
 *              not say; the summary says so, and --volume-unit / --amount-unit override it.
 *   cache      tradelite's own CSV (cache files, exports): exactly the seven columns
 *              timestamp, open, high, low, close, volume, amount in any order; ISO-8601 times.
 */
import { CSV_HEADER } from "../domain/bar-format.ts";

export const PROFILE_NAMES = ["tushare", "akshare", "baostock", "joinquant", "ricequant", "tdx", "cache"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const VOLUME_UNITS = ["shares", "lots"] as const;
export const AMOUNT_UNITS = ["yuan", "thousands"] as const;
export type VolumeUnit = (typeof VOLUME_UNITS)[number];
export type AmountUnit = (typeof AMOUNT_UNITS)[number];

/** Powers of ten that turn each unit into shares or yuan (a lot, 手, is 100 shares). */
export const VOLUME_EXPONENT: Record<VolumeUnit, number> = { shares: 0, lots: 2 };
export const AMOUNT_EXPONENT: Record<AmountUnit, number> = { yuan: 0, thousands: 3 };

export type Role = "datetime" | "date" | "time" | "open" | "high" | "low" | "close" | "volume" | "amount" | "code" | "adjustflag";

/** The spellings every profile but `cache` reads (case and surrounding space ignored). */
export const COMMON_SPELLINGS: Record<Exclude<Role, "code" | "adjustflag">, readonly string[]> = {
  datetime: ["datetime", "timestamp"],
  date: ["date", "trade_date", "日期"],
  time: ["time", "时间"],
  open: ["open", "开盘", "开盘价"],
  high: ["high", "最高", "最高价"],
  low: ["low", "最低", "最低价"],
  close: ["close", "收盘", "收盘价"],
  volume: ["volume", "vol", "成交量"],
  amount: ["amount", "turnover", "成交额"],
};

export interface Profile {
  name: ProfileName;
  /** What a header needs for this profile, for the error that lists them. */
  needs: string;
  /** Whether a header (names trimmed and lower-cased) is this vendor's. */
  matches(names: readonly string[]): boolean;
  /** Spellings this profile reads besides (before) the common ones. */
  spellings: Partial<Record<Role, readonly string[]>>;
  /** A `time` column holds the whole date and time (baostock), not a time of day. */
  timeIsDatetime?: boolean;
  /** The time may sit in an unnamed first column (a pandas index). */
  unnamedTime?: boolean;
  /** The units of the sizes as the vendor writes them (for daily files when they differ). */
  units(names: readonly string[]): { volume: VolumeUnit; amount: AmountUnit; said: boolean };
}

const has = (names: readonly string[], ...wanted: string[]) => wanted.some((name) => names.includes(name));

const SHARES_YUAN = { volume: "shares", amount: "yuan", said: true } as const;

export const PROFILES: readonly Profile[] = [
  {
    name: "cache",
    needs: `exactly the columns ${CSV_HEADER} (any order)`,
    matches: (names) => names.length === 7 && CSV_HEADER.split(",").every((column) => names.includes(column)),
    spellings: { datetime: ["timestamp"], open: ["open"], high: ["high"], low: ["low"], close: ["close"], volume: ["volume"], amount: ["amount"] },
    units: () => SHARES_YUAN,
  },
  {
    name: "tushare",
    needs: "ts_code with trade_date or trade_time, or trade_date with pre_close / pct_chg / change",
    matches: (names) => (has(names, "ts_code") && has(names, "trade_date", "trade_time")) || (has(names, "trade_date") && has(names, "pre_close", "pct_chg", "pct_change", "change")),
    spellings: { datetime: ["trade_time"], date: ["trade_date"], code: ["ts_code"], volume: ["vol"] },
    // daily and pro_bar: 手 and 千元; stk_mins (trade_time): shares and yuan.
    units: (names) => (has(names, "trade_time") ? SHARES_YUAN : { volume: "lots", amount: "thousands", said: true }),
  },
  {
    name: "baostock",
    needs: "code with adjustflag, preclose, tradestatus, pctchg, turn or isst",
    matches: (names) => has(names, "code") && has(names, "adjustflag", "preclose", "tradestatus", "pctchg", "turn", "isst"),
    spellings: { datetime: ["time"], date: ["date"], code: ["code"], adjustflag: ["adjustflag"] },
    timeIsDatetime: true,
    units: () => SHARES_YUAN,
  },
  {
    name: "ricequant",
    needs: "order_book_id or total_turnover",
    matches: (names) => has(names, "order_book_id", "total_turnover"),
    spellings: { code: ["order_book_id"], amount: ["total_turnover"] },
    unnamedTime: true,
    units: () => SHARES_YUAN,
  },
  {
    name: "joinquant",
    needs: "money (the amount), with the time in the first column or in time",
    matches: (names) => has(names, "money"),
    spellings: { datetime: ["time"], code: ["code"], amount: ["money"] },
    timeIsDatetime: true,
    unnamedTime: true,
    units: () => SHARES_YUAN,
  },
  {
    name: "akshare",
    needs: "one of 股票代码, 振幅, 涨跌幅, 涨跌额, 换手率, 均价",
    matches: (names) => has(names, "股票代码", "振幅", "涨跌幅", "涨跌额", "换手率", "均价"),
    spellings: { datetime: ["时间", "datetime"], date: ["日期"], code: ["股票代码"] },
    timeIsDatetime: true,
    // 成交量 in 手 in every stock_zh_a_hist* function; 成交额 in yuan.
    units: () => ({ volume: "lots", amount: "yuan", said: true }),
  },
  {
    name: "tdx",
    needs: "a time column and open, high, low, close in the common spellings",
    matches: () => true,
    spellings: {},
    units: () => ({ volume: "shares", amount: "yuan", said: false }),
  },
];

export function profileNamed(name: ProfileName): Profile {
  return PROFILES.find((profile) => profile.name === name)!;
}

/** The first profile whose header this is (`tdx`, the common spellings, when no vendor's). */
export function detectProfile(names: readonly string[]): Profile {
  return PROFILES.find((profile) => profile.matches(names))!;
}

/** What each profile needs, for an error naming a header none of them reads. */
export function describeProfiles(): string {
  return PROFILES.map((profile) => `${profile.name} (${profile.needs})`).join("; ");
}
