/**
 * Writes the shipped exchange calendars (src/domain/calendars/xshg.ts and xshe.ts) from public
 * sources, after checking the sources against each other and against the days of real bar files.
 *
 *   bun scripts/calendar-data.ts [OUT_DIR]     (default src/domain/calendars)
 *
 * Sources (test/fixtures/calendar/README.md has their provenance):
 * - exchange_calendars' XSHG sessions, 1990-2026: the Shanghai days and hours;
 * - the npm package chinese-days (State Council holidays, 2004 on): checks those years, and gives
 *   the days of any later year it has announced (weekdays that are not holidays);
 * - daily and minute bars of Shanghai and Shenzhen securities: a day with bars must be a trading
 *   day of its exchange.
 * Prints a summary; exits 1, writing nothing, when the sources contradict each other.
 */
import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import { Calendar, dateWallMs, formatSessions, isoDate, type CalendarData, type Session, type SessionRule } from "../src/domain/calendar.ts";
import { decodeCalendar, encodeCalendar } from "../src/domain/calendars/encoding.ts";
import { DAY_MS, MINUTE_MS, offsetAt } from "../src/domain/time.ts";
import { importTdxFile, tdxFileName } from "../src/import/tdx-binary.ts";

const FIXTURES = new URL("../test/fixtures/", import.meta.url).pathname;
const ZONE = "Asia/Shanghai";
/** The Shanghai Stock Exchange opened on 1990-12-19; exchange_calendars starts two weeks early. */
const XSHG_OPENING = "1990-12-19";
/**
 * Shenzhen's first day in the data at hand: Tushare's 000001.SZ history starts here, the base day
 * of the Shenzhen Composite index. The exchange's trial trading from 1990-12-01 has no day list
 * in any source here, so those months are not shipped.
 */
const XSHE_FIRST = "1991-04-03";

const errors: string[] = [];
const summary: string[] = [];
const say = (line: string) => summary.push(line);
const fail = (line: string) => errors.push(line);

// --- exchange_calendars -------------------------------------------------------------------

interface SessionRow {
  readonly day: string;
  /** The row's UTC instants: open, break start, break end, close. */
  readonly instants: readonly number[];
  /** The same in local minutes after midnight, as sessions. */
  readonly sessions: readonly Session[];
}

/** exchange_calendars' CSV: `,open,close,break_start,break_end`, UTC ISO instants, one row a day. */
async function readExchangeCalendars(path: string): Promise<SessionRow[]> {
  const lines = (await Bun.file(path).text()).trim().split("\n");
  if (lines[0] !== ",open,close,break_start,break_end") throw new Error(`${path}: unexpected header ${lines[0]}`);
  return lines.slice(1).map((line) => {
    const [label, open, close, breakStart, breakEnd] = line.split(",");
    const day = label!.slice(0, 10);
    const local = (iso: string) => {
      const utc = Date.parse(iso);
      return (utc + offsetAt(ZONE, utc) - dateWallMs(day)) / MINUTE_MS;
    };
    const sessions = breakStart
      ? [{ open: local(open!), close: local(breakStart) }, { open: local(breakEnd!), close: local(close!) }]
      : [{ open: local(open!), close: local(close!) }];
    const instants = [open!, breakStart, breakEnd, close!].filter((s): s is string => !!s).map(Date.parse);
    return { day, instants, sessions };
  });
}

/** Runs of equal sessions as rules; a one-day run between two equal runs is an exception. */
function sessionRules(rows: readonly SessionRow[]): { rules: SessionRule[]; exceptions: Record<string, Session[]> } {
  const runs: { from: string; text: string; sessions: Session[]; length: number }[] = [];
  for (const row of rows) {
    const text = formatSessions(row.sessions);
    const last = runs[runs.length - 1];
    if (last?.text === text) last.length++;
    else runs.push({ from: row.day, text, sessions: [...row.sessions], length: 1 });
  }
  const rules: SessionRule[] = [];
  const exceptions: Record<string, Session[]> = {};
  runs.forEach((run, i) => {
    if (run.length === 1 && i > 0 && runs[i - 1]!.text === runs[i + 1]?.text) exceptions[run.from] = run.sessions;
    else if (rules[rules.length - 1] === undefined || formatSessions(rules[rules.length - 1]!.sessions) !== run.text) rules.push({ from: run.from, sessions: run.sessions });
  });
  return { rules, exceptions };
}

// --- chinese-days ---------------------------------------------------------------------------

interface Holidays {
  readonly version: string;
  /** Official holidays (weekdays and weekends), YYYY-MM-DD. */
  readonly holidays: ReadonlySet<string>;
  /** Weekend days made working days (调休): the exchange stays closed on them. */
  readonly workdays: ReadonlySet<string>;
  readonly years: readonly number[];
}

async function readChineseDays(): Promise<Holidays> {
  const data = await Bun.file(Bun.resolveSync("chinese-days/dist/chinese-days.json", import.meta.dir)).json() as { holidays: Record<string, string>; workdays: Record<string, string> };
  const { version } = await Bun.file(Bun.resolveSync("chinese-days/package.json", import.meta.dir)).json() as { version: string };
  const holidays = new Set(Object.keys(data.holidays));
  const years = [...new Set([...holidays].map((day) => Number(day.slice(0, 4))))].sort((a, b) => a - b);
  return { version, holidays, workdays: new Set(Object.keys(data.workdays)), years };
}

/** The A-share rule for an announced year: weekdays that are not official holidays. */
function derivedDays(year: number, holidays: Holidays): string[] {
  const days: string[] = [];
  for (let ms = Date.UTC(year, 0, 1); ms < Date.UTC(year + 1, 0, 1); ms += DAY_MS) {
    const day = isoDate(ms);
    if (!isWeekend(day) && !holidays.holidays.has(day)) days.push(day);
  }
  return days;
}

function isWeekend(day: string): boolean {
  const weekday = new Date(dateWallMs(day)).getUTCDay();
  return weekday === 0 || weekday === 6;
}

// --- bar files ------------------------------------------------------------------------------

interface BarDays {
  readonly file: string;
  /** Each day with a row, and whether every row of it has zero volume (a suspended day). */
  readonly days: ReadonlyMap<string, { suspended: boolean }>;
  /** Local end-stamped bar times in minutes after midnight, by day (minute files only). */
  readonly minutes?: ReadonlyMap<string, number[]>;
}

/** A CSV with a date column (`YYYY-MM-DD`, `YYYYMMDD` or `YYYY-MM-DD HH:MM:SS`) and a volume column. */
async function readCsvDays(file: string, dateColumn: string, volumeColumn: string, intraday = false): Promise<BarDays> {
  const [header, ...lines] = (await Bun.file(FIXTURES + file).text()).trim().split(/\r?\n/);
  const names = header!.split(",");
  // TDX exports name `datetime` twice; the first is the full one.
  const dateAt = names.indexOf(dateColumn);
  const volumeAt = names.lastIndexOf(volumeColumn);
  if (dateAt < 0 || volumeAt < 0) throw new Error(`${file}: no ${dateColumn} or ${volumeColumn} column`);
  const days = new Map<string, { suspended: boolean }>();
  const minutes = new Map<string, number[]>();
  for (const line of lines) {
    const cells = line.split(",");
    const stamp = cells[dateAt]!;
    const day = /^\d{8}$/.test(stamp) ? `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6)}` : stamp.slice(0, 10);
    const suspended = !(Number(cells[volumeAt]) > 0) && (days.get(day)?.suspended ?? true);
    days.set(day, { suspended });
    if (intraday) {
      const list = minutes.get(day) ?? [];
      list.push(Number(stamp.slice(11, 13)) * 60 + Number(stamp.slice(14, 16)));
      minutes.set(day, list);
    }
  }
  return intraday ? { file, days, minutes } : { file, days };
}

/** A TDX `.day` file, read by the importer's decoder (src/import/tdx-binary.ts): each record's date and volume. */
async function readTdxDays(file: string): Promise<BarDays> {
  const days = new Map<string, { suspended: boolean }>();
  await importTdxFile(Bun.file(FIXTURES + file), tdxFileName(basename(file))!, {
    timeZone: "UTC",
    write: async (bars) => {
      for (let i = 0; i < bars.timestamp.length; i++) days.set(isoDate(Number(bars.timestamp[i])), { suspended: bars.volume![i] === 0 });
      return bars.timestamp.length;
    },
  });
  return { file, days };
}

/** Bars on a closed day are errors; trading days in the file's span without a row are counted. */
function checkBars(bars: BarDays, calendar: Calendar): string[] {
  const dates = [...bars.days.keys()].sort();
  const first = dates[0]!;
  const last = dates[dates.length - 1]!;
  const closed = dates.filter((day) => !calendar.isTradingDay(day));
  for (const day of closed) fail(`${bars.file}: bars on ${day}, a day ${calendar.name} is closed`);
  const absent = calendar.daysBetween(first, last).filter((day) => !bars.days.has(day));
  const suspended = dates.filter((day) => bars.days.get(day)!.suspended).length;
  let outside = 0;
  for (const [day, minutes] of bars.minutes ?? []) {
    // End-stamped: a bar belongs to the session with open < minute <= close.
    const sessions = calendar.sessionsOn(day);
    outside += minutes.filter((m) => !sessions.some((s) => s.open < m && m <= s.close)).length;
  }
  if (outside > 0) fail(`${bars.file}: ${outside} bars outside ${calendar.name}'s sessions`);
  say(`  ${bars.file}: ${first}..${last}, ${dates.length} days with bars, ${closed.length} on closed days, ` +
    `${suspended} zero-volume (suspended), ${absent.length} trading days without a row` +
    (bars.minutes ? `, ${outside} bars outside the sessions` : ""));
  return absent;
}

/** The calendar cut to days from `first` on: the rule in force that day re-dated to it. */
function startingOn(first: string, data: CalendarData): CalendarData {
  const inForce = data.rules.filter((rule) => rule.from <= first).at(-1);
  const rules = [...(inForce ? [{ ...inForce, from: first }] : []), ...data.rules.filter((rule) => rule.from > first)];
  const exceptions = Object.fromEntries(Object.entries(data.exceptions ?? {}).filter(([day]) => day >= first));
  const days = data.days.filter((day) => day >= first);
  return Object.keys(exceptions).length > 0 ? { ...data, days, rules, exceptions } : { name: data.name, timezone: data.timezone, days, rules };
}

// --- the run --------------------------------------------------------------------------------

function firstDay(bars: BarDays): string {
  return [...bars.days.keys()].reduce((a, b) => (a < b ? a : b));
}

function lastDay(bars: BarDays): string {
  return [...bars.days.keys()].reduce((a, b) => (a > b ? a : b));
}

function yearsOf(days: readonly string[]): string {
  return `${days[0]!.slice(0, 4)}-${days[days.length - 1]!.slice(0, 4)}`;
}

/** Shanghai's sessions from the opening on, with the session rules they imply. */
async function shanghaiSessions(): Promise<{ rows: SessionRow[]; rules: SessionRule[]; exceptions: Record<string, Session[]> }> {
  const allRows = await readExchangeCalendars(`${FIXTURES}calendar/XSHG-sessions-exchange_calendars.csv`);
  const rows = allRows.filter((row) => row.day >= XSHG_OPENING);
  say(`exchange_calendars XSHG @ 5308ce2: ${allRows.length} rows ${yearsOf(allRows.map((r) => r.day))}, ` +
    `${allRows.length - rows.length} before the opening on ${XSHG_OPENING} dropped, ${rows.length} sessions kept, ` +
    `${rows.filter((row) => isWeekend(row.day)).length} on a Saturday or Sunday`);
  const { rules, exceptions } = sessionRules(rows);
  say(`  sessions in ${ZONE}: ${rules.map((r) => `${formatSessions(r.sessions)} from ${r.from}`).join("; ")}; ` +
    `${Object.keys(exceptions).length} single days with other hours`);
  return { rows, rules, exceptions };
}

/**
 * Checks the exchange's days against the holiday list where both exist; returns the official
 * working days the exchange was closed. Those are not contradictions: the exchanges close some
 * working days next to a holiday (2024-02-09, Spring Festival's eve, between weekends made
 * working days), which exchange_calendars knows and a holiday list cannot.
 */
function checkHolidays(exchangeDays: readonly string[], holidays: Holidays): string[] {
  const trading = new Set(exchangeDays);
  const lastYear = Number(exchangeDays[exchangeDays.length - 1]!.slice(0, 4));
  const overlap = holidays.years.filter((year) => year <= lastYear);
  const exchangeOnly: string[] = [];
  let contradictions = 0;
  for (const year of overlap) {
    const derived = new Set(derivedDays(year, holidays));
    for (const day of derived) if (!trading.has(day)) exchangeOnly.push(day);
    for (const day of exchangeDays.filter((d) => d.startsWith(`${year}-`))) {
      const why = holidays.holidays.has(day) ? "an official holiday" : holidays.workdays.has(day) ? "a weekend make-up working day" : derived.has(day) ? "" : "not a weekday";
      if (why) fail(`exchange_calendars trades on ${day}, ${why} in chinese-days`);
      if (why) contradictions++;
    }
  }
  say(`  against exchange_calendars ${overlap[0]}-${overlap[overlap.length - 1]}: ${contradictions} days traded on a holiday or weekend; ` +
    `${exchangeOnly.length} official working days the exchange was closed: ${exchangeOnly.join(" ")}`);
  return exchangeOnly;
}

/** Shanghai's bar files against XSHG. */
async function checkShanghaiBars(xshg: Calendar): Promise<BarDays[]> {
  say("XSHG against Shanghai bar files:");
  const files = [
    await readCsvDays("tdx/000001.SH-1min-tdx.csv", "datetime", "volume", true),
    await readCsvDays("tdx/512010.SH-5min-desc.csv", "datetime", "volume", true),
    await readCsvDays("calendar/sh.600036-baostock-raw-2005-2021.csv", "date", "volume"),
  ];
  for (const bars of files) checkBars(bars, xshg);
  return files;
}

/** Shenzhen's bar files against XSHE, and against each other. */
async function checkShenzhenBars(xshe: Calendar): Promise<BarDays[]> {
  say(`XSHE: XSHG's days from ${XSHE_FIRST}; against Shenzhen bar files:`);
  const tushare = await readCsvDays("calendar/000001.SZ-tushare-daily-raw-1991-2018.csv", "trade_date", "vol");
  const tdx = await readTdxDays("calendar/sz000001.day");
  const withoutTushare = checkBars(tushare, xshe);
  const withoutTdx = checkBars(tdx, xshe);
  // TDX writes no record on a suspended day, Tushare a zero-volume one: TDX's gaps must be those.
  const unexplained = withoutTdx.filter((day) => day <= lastDay(tushare) && !tushare.days.get(day)?.suspended);
  say(`  sz000001.day's ${withoutTdx.length} missing days: ${withoutTdx.length - unexplained.length} zero-volume in Tushare, ${unexplained.length} not explained`);
  for (const day of unexplained) fail(`sz000001.day has no record on ${day}, a day Tushare's 000001.SZ traded`);
  const noShenzhenRow = withoutTushare.filter((day) => !tdx.days.has(day));
  say(`  XSHG days ${XSHE_FIRST}..${lastDay(tdx)} with no 000001.SZ row in either file (a suspension or a Shenzhen-only ` +
    `closure; one stock cannot tell): ${noShenzhenRow.length}: ${noShenzhenRow.join(" ")}`);
  return [tushare, tdx];
}

async function main(outDir: string): Promise<void> {
  const { rows, rules, exceptions } = await shanghaiSessions();
  const exchangeDays = rows.map((row) => row.day);
  const lastYear = Number(exchangeDays[exchangeDays.length - 1]!.slice(0, 4));

  const holidays = await readChineseDays();
  say(`chinese-days ${holidays.version}: holidays ${holidays.years[0]}-${holidays.years[holidays.years.length - 1]}`);
  const exchangeOnly = checkHolidays(exchangeDays, holidays);
  const laterYears = holidays.years.filter((year) => year > lastYear);
  const laterDays = laterYears.flatMap((year) => derivedDays(year, holidays));
  say(laterYears.length > 0
    ? `  ${laterYears.join(", ")} derived from chinese-days (weekdays that are not holidays): ${laterDays.length} days`
    : `  no year after ${lastYear} announced in chinese-days ${holidays.version}: the calendars end on ${exchangeDays[exchangeDays.length - 1]}`);

  const xshgData: CalendarData = { name: "XSHG", timezone: ZONE, days: [...exchangeDays, ...laterDays], rules, ...(Object.keys(exceptions).length ? { exceptions } : {}) };
  const xsheData = startingOn(XSHE_FIRST, { ...xshgData, name: "XSHE" });
  const xshg = new Calendar(xshgData);
  const xshe = new Calendar(xsheData);

  // The model must give back exchange_calendars' instants, daylight-saving summer of 1991 included.
  const spanMismatches = rows.filter((row) => xshg.spansOn(row.day).flatMap((s) => [s.open, s.close]).join() !== row.instants.join());
  for (const row of spanMismatches.slice(0, 5)) fail(`XSHG sessions on ${row.day} differ from exchange_calendars'`);
  say(`  XSHG's sessions as UTC instants equal exchange_calendars' on ${rows.length - spanMismatches.length} of ${rows.length} days`);

  const files = [...(await checkShanghaiBars(xshg)), ...(await checkShenzhenBars(xshe))];
  // A closure the holiday list does not know is confirmed where a bar file spans it (the file
  // then has no row that day, or an error above says so).
  const confirmed = exchangeOnly.filter((day) => files.some((bars) => firstDay(bars) <= day && day <= lastDay(bars)));
  say(`exchange closures on official working days confirmed by a bar file spanning them: ${confirmed.length} of ${exchangeOnly.length}` +
    (confirmed.length < exchangeOnly.length ? ` (exchange_calendars alone: ${exchangeOnly.filter((d) => !confirmed.includes(d)).join(" ")})` : ""));

  const written: [string, CalendarData][] = [["xshg", xshgData], ["xshe", xsheData]];
  for (const [, data] of written) {
    const text = encodeCalendar(data);
    if (JSON.stringify(decodeCalendar(text)) !== JSON.stringify(data)) fail(`${data.name}: the encoded text does not decode to the same calendar`);
    say(`${data.name}: ${data.days[0]}..${data.days[data.days.length - 1]}, ${data.days.length} trading days, ${text.length} bytes encoded`);
  }

  console.log(summary.join("\n"));
  if (errors.length > 0) {
    console.error(`\n${errors.length} contradictions, nothing written:\n${errors.join("\n")}`);
    process.exit(1);
  }
  await mkdir(outDir, { recursive: true });
  for (const [file, data] of written) await Bun.write(`${outDir}/${file}.ts`, moduleText(data));
  console.log(`written to ${outDir}`);
}

function moduleText(data: CalendarData): string {
  return `// Generated by scripts/calendar-data.ts from the sources named there; do not edit by hand
// (test/domain/calendars.test.ts regenerates it and compares). The format is in ./encoding.ts.
export const ${data.name} = \`${encodeCalendar(data)}\`;
`;
}

await main(Bun.argv[2] ?? new URL("../src/domain/calendars", import.meta.url).pathname);
