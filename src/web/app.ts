/**
 * The data browser's script: runs in the browser, talks only to the API routes every other
 * client uses (no private back door), with the token the user gave when the server asks for one
 * (kept in sessionStorage: gone when the tab closes). Bundled with lightweight-charts by
 * src/api/page.ts; type-checked against the DOM by src/web/tsconfig.json.
 *
 * The page marks its state on elements (data-state, data-candles, data-more, data-value) so a
 * person can read it in the inspector and the browser tests can wait on it.
 */
import {
  CandlestickSeries,
  createChart,
  HistogramSeries,
  TickMarkType,
  type CandlestickData,
  type HistogramData,
  type Time,
  type UTCTimestamp,
  type WhitespaceData,
} from "lightweight-charts";
// Types only (erased from the bundle): the answers are the domain's shapes as JSON.
// (store.ts and audit.ts use Bun's types, so their two small shapes are restated here.)
import type { Bar } from "../domain/bar.ts";
import { dateWallMs, isoDate, localDate, wallClock } from "../domain/calendar.ts";
import { formatBytes } from "../domain/format.ts";
import type { CacheEntry } from "../domain/cache.ts";
import type { MaintenanceStats } from "../domain/maintenance.ts";
import type { Completeness, DayCompleteness, MissingRange } from "../domain/session.ts";
import { DAY_MS } from "../domain/time.ts";

type SymbolOverview = { symbol: string; count: number; start: number; end: number };
type AuditVerification = { ok: boolean; checked: number; firstBadId?: number };
type SymbolCalendar = { symbol: string; calendar: string | null };

/** GET /v1/info. */
interface Info {
  version: string;
  backend: string;
  timezone: string;
  barTimestamp: "start" | "end";
  db: { path: string; journalMode: string; sizeBytes: number };
}
interface Row {
  symbol: string;
  count: number | null;
  start: number | null;
  end: number | null;
  cacheRows: number | null;
  cacheBytes: number | null;
  lastCompacted: number | null;
}
type RowKey = keyof Row;

/** Bars asked for per request: the latest page first, older pages as the user scrolls back. */
const PAGE_BARS = 2_000;
/** Bars in view after a load. */
const VISIBLE_BARS = 240;
/** Load older bars when fewer than this many are left of the view. */
const LOAD_MARGIN = 20;
const TOKEN_KEY = "tradelite.token";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function showStatus(message: string, isError = false): void {
  const status = element("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

// ---------------------------------------------------------------------------------------------
// The API, with the token

let tokenPrompt: Promise<void> | null = null;

/** Shows the token dialog (once, however many requests are waiting) and stores what is entered. */
function askForToken(refused: boolean): Promise<void> {
  tokenPrompt ??= new Promise<void>((resolve) => {
    const dialog = element<HTMLDialogElement>("token-dialog");
    const input = element<HTMLInputElement>("token");
    element("token-error").hidden = !refused;
    input.value = "";
    element<HTMLFormElement>("token-form").onsubmit = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token === "") return;
      sessionStorage.setItem(TOKEN_KEY, token);
      dialog.close();
      tokenPrompt = null;
      resolve();
    };
    dialog.showModal();
    input.focus();
  });
  return tokenPrompt;
}

function authorization(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token === null ? {} : { Authorization: `Bearer ${token}` };
}

/** Calls the API; a 401 asks for the token (again, if the stored one was refused) and retries. */
async function api(path: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const sent = sessionStorage.getItem(TOKEN_KEY);
    const response = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), ...authorization() } });
    if (response.status !== 401) return response;
    await response.text(); // read, not cancelled: a cancelled answer shows as a failed request
    if (sent !== null && sessionStorage.getItem(TOKEN_KEY) === sent) sessionStorage.removeItem(TOKEN_KEY);
    await askForToken(sent !== null);
  }
}

/** The API's error shape, as one line. */
async function failure(response: Response): Promise<Error> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    const details = Array.isArray(body.error?.details) ? ` (${JSON.stringify(body.error.details[0])})` : "";
    return new Error(`${body.error?.message ?? `HTTP ${response.status}`}${details}`);
  } catch {
    return new Error(`HTTP ${response.status}`);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const response = await api(path);
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

// ---------------------------------------------------------------------------------------------
// Formatting, in the store's timezone

let timezone = "UTC";
let dateTimeFormat = new Intl.DateTimeFormat("sv-SE", { timeZone: "UTC", dateStyle: "short", timeStyle: "short" });

function useTimezone(zone: string): void {
  timezone = zone;
  dateTimeFormat = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, dateStyle: "short", timeStyle: "short" });
}

/** Where the store's bars are stamped within their interval (from /v1/info). */
let barStamp: "start" | "end" = "start";

/**
 * The API's bounds for whole local days `from` to `to` (YYYY-MM-DD, either may be ""), read in
 * the store's timezone by the API. A day's bars are those stamped from its midnight up to the
 * next (start-stamped: the dates as they are, by the API's one date rule, whole as `end`), or
 * after its midnight up to and including the next (end-stamped: the 00:00 bar closes the day
 * before, and the day's last bar is stamped at the next midnight).
 */
function dayRange(from: string, to: string): { start: string | null; end: string | null } {
  const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  if (barStamp === "end") return { start: from === "" ? null : `${from} 00:00:00.001`, end: to === "" ? null : `${nextDay(to)} 00:00:00` };
  return { start: from === "" ? null : from, end: to === "" ? null : to };
}

function formatTime(ms: number | null): string {
  return ms === null ? "" : dateTimeFormat.format(ms);
}

function formatSize(bytes: number | null): string {
  return bytes === null ? "" : formatBytes(bytes);
}

function formatCount(count: number | null): string {
  return count === null ? "" : count.toLocaleString("en-US");
}

// ---------------------------------------------------------------------------------------------
// The overview table

let rows: Row[] = [];
let sortKey: RowKey = "symbol";
let sortDirection: 1 | -1 = 1;

async function cacheEntries(): Promise<CacheEntry[]> {
  const response = await api("/v1/cache");
  if (response.status === 501) {
    await response.text();
    return []; // this server runs without a session cache
  }
  if (!response.ok) throw await failure(response);
  return (await response.json()) as CacheEntry[];
}

async function loadOverview(): Promise<void> {
  const table = element("overview");
  table.dataset.state = "loading";
  const [symbols, cache] = await Promise.all([getJson<SymbolOverview[]>("/v1/symbols"), cacheEntries()]);
  const bySymbol = new Map<string, Row>();
  const row = (symbol: string): Row => {
    let found = bySymbol.get(symbol);
    if (!found) {
      found = { symbol, count: null, start: null, end: null, cacheRows: null, cacheBytes: null, lastCompacted: null };
      bySymbol.set(symbol, found);
    }
    return found;
  };
  for (const entry of symbols) Object.assign(row(entry.symbol), { count: entry.count, start: entry.start, end: entry.end });
  for (const entry of cache) {
    Object.assign(row(entry.symbol), { cacheRows: entry.row_count, cacheBytes: entry.size_bytes, lastCompacted: entry.last_compacted });
  }
  rows = [...bySymbol.values()];
  renderOverview();
  renderSymbolChoice();
  table.dataset.state = "ready";
}

function compareRows(a: Row, b: Row): number {
  const x = a[sortKey];
  const y = b[sortKey];
  // Empty cells last, whichever the direction.
  if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
  const order = typeof x === "string" ? x.localeCompare(y as string) : (x as number) - (y as number);
  return (order || a.symbol.localeCompare(b.symbol)) * sortDirection;
}

function renderOverview(): void {
  const body = element("overview").querySelector("tbody")!;
  const sorted = [...rows].sort(compareRows);
  const cells: [RowKey, (row: Row) => string][] = [
    ["symbol", (row) => row.symbol],
    ["count", (row) => formatCount(row.count)],
    ["start", (row) => formatTime(row.start)],
    ["end", (row) => formatTime(row.end)],
    ["cacheRows", (row) => formatCount(row.cacheRows)],
    ["cacheBytes", (row) => formatSize(row.cacheBytes)],
    ["lastCompacted", (row) => formatTime(row.lastCompacted)],
  ];
  body.replaceChildren(
    ...sorted.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.symbol = row.symbol;
      tr.setAttribute("aria-selected", String(row.symbol === chartState.symbol));
      for (const [key, text] of cells) {
        const td = document.createElement("td");
        td.dataset.key = key;
        const value = row[key];
        td.dataset.value = value === null ? "" : String(value);
        td.textContent = text(row);
        tr.append(td);
      }
      tr.addEventListener("click", () => void run("chart", () => selectSymbol(row.symbol)));
      return tr;
    }),
  );
  for (const th of element("overview").querySelectorAll<HTMLTableCellElement>("th")) {
    th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDirection === 1 ? "ascending" : "descending") : "none");
  }
}

function renderSymbolChoice(): void {
  const select = element<HTMLSelectElement>("symbol");
  const symbols = rows.filter((row) => row.count !== null).map((row) => row.symbol).sort();
  select.replaceChildren(
    ...symbols.map((symbol) => {
      const option = document.createElement("option");
      option.value = symbol;
      option.textContent = symbol;
      return option;
    }),
  );
  if (chartState.symbol !== null) select.value = chartState.symbol;
}

// ---------------------------------------------------------------------------------------------
// The chart: candles over a volume pane, loaded a page at a time

const chartState = {
  symbol: null as string | null,
  interval: "1m",
  /** Prices raw (`none`), forward- (`qfq`) or back-adjusted (`hfq`) by the symbol's stored factors. */
  adjust: "none",
  /** The range the user chose, as the API reads it (naive local dates); null: open. */
  start: null as string | null,
  end: null as string | null,
  /** The last day of that range as chosen (YYYY-MM-DD); "": open. */
  lastDay: "",
  /** The exchange calendar the symbol follows (its bars are then read session-aligned); null: none. */
  calendar: null as string | null,
  /** Bumped by every choice of symbol or range, so answers about an earlier choice are dropped. */
  selection: 0,
  bars: [] as Bar[],
  /** False once the API had no older bars to give. */
  more: true,
  loading: false,
  /** Bumped by every fresh load, so an older answer arriving late is dropped. */
  generation: 0,
};

const chartElement = element("chart");
const chart = createChart(chartElement, {
  autoSize: true,
  // The library's own attribution logo sets an inline style, which the page's CSP refuses; the
  // attribution TradingView asks for is the link in the page's footer instead.
  layout: { background: { color: "#ffffff" }, textColor: "#1d2430", attributionLogo: false },
  grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
  localization: { timeFormatter: (time: Time) => dateTimeFormat.format((time as number) * 1000) },
  timeScale: {
    timeVisible: true,
    tickMarkFormatter: (time: Time, type: TickMarkType) => {
      const ms = (time as number) * 1000;
      const parts: Intl.DateTimeFormatOptions =
        type === TickMarkType.Year
          ? { year: "numeric" }
          : type === TickMarkType.Month
            ? { month: "short" }
            : type === TickMarkType.DayOfMonth
              ? { month: "2-digit", day: "2-digit" }
              : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
      return new Intl.DateTimeFormat("en-GB", { timeZone: timezone, ...parts }).format(ms);
    },
  },
});
const candles = chart.addSeries(CandlestickSeries, {
  upColor: "#d93025",
  downColor: "#137333",
  borderVisible: false,
  wickUpColor: "#d93025",
  wickDownColor: "#137333",
});
// Red up, green down: the convention of the A-share terminals this data comes from.
const volumes = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false }, 1);

chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
  if (range !== null && range.from < LOAD_MARGIN) void run("chart", () => loadBars(false));
});

function draw(): void {
  const candleData: (CandlestickData | WhitespaceData)[] = [];
  const volumeData: (HistogramData | WhitespaceData)[] = [];
  let previous = -Infinity;
  for (const bar of chartState.bars) {
    const time = Math.floor(bar.timestamp / 1000) as UTCTimestamp;
    // The chart's time is in whole seconds and must rise: bars inside one second draw once.
    if (time <= previous) continue;
    previous = time;
    const { open, high, low, close, volume } = bar;
    candleData.push(open === null || high === null || low === null || close === null ? { time } : { time, open, high, low, close });
    volumeData.push(
      volume === null ? { time } : { time, value: volume, color: close !== null && open !== null && close < open ? "#13733366" : "#d9302566" },
    );
  }
  candles.setData(candleData);
  volumes.setData(volumeData);
  chartElement.dataset.candles = String(candles.data().length);
  chartElement.dataset.digest = digest(chartState.bars);
  chartElement.dataset.times = timesOfDay(chartState.bars);
}

/**
 * The wall-clock times (HH:MM, the store's zone) at which the chart's bars are stamped, each once,
 * in order: "10:30 11:30 14:00 15:00" says at a glance that hour bars follow the sessions.
 */
function timesOfDay(bars: readonly Bar[]): string {
  const times = new Set<string>();
  for (const bar of bars) times.add(wallClock(bar.timestamp, timezone).slice(11));
  return [...times].sort().join(" ");
}

/**
 * What the chart holds, in one line (count, first and last timestamp, sums of volume and of
 * close in cents): a reader (or a test) compares it with the API's answer, and a missing,
 * doubled or cut-short bar changes it.
 */
function digest(bars: readonly Bar[]): string {
  let volume = 0;
  let close = 0;
  for (const bar of bars) {
    volume += bar.volume ?? 0;
    close += Math.round((bar.close ?? 0) * 100);
  }
  return [bars.length, bars[0]?.timestamp ?? "", bars.at(-1)?.timestamp ?? "", volume, close].join("|");
}

/** Calendar time per bar of each interval (a month counts as its longest, for the window below). */
const INTERVAL_MS: Readonly<Record<string, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "30m": 1_800_000,
  "1h": 3_600_000,
  "2h": 7_200_000,
  "1d": DAY_MS,
  "1w": 7 * DAY_MS,
  "1M": 31 * DAY_MS,
};
/**
 * A page is asked for within a window of calendar time, so the API resamples that window and
 * not the symbol's whole history: about ten times the page's own span (a trading session covers
 * a sixth to a quarter of the clock), widened fourfold until the page is full or the window
 * reaches the symbol's first bar.
 */
const WINDOW_SPANS = 10;

/**
 * The page of bars ending at `end` (inclusive; the API's form), newest first, and whether there
 * are older ones. One bar more than a page is asked for: when it comes, it is dropped and says
 * there is more. Dropping it matters inside a window, whose oldest bucket may be cut short by
 * the window's edge (the range filter applies to the source bars).
 */
async function fetchPage(symbol: string, end: string | null, endMs: number | null): Promise<{ page: Bar[]; more: boolean }> {
  const ask = async (start: string | null): Promise<Bar[]> => {
    const query = new URLSearchParams({ interval: chartState.interval, order: "desc", limit: String(PAGE_BARS + 1) });
    // With a calendar, buckets follow its sessions (end-stamped A-share hours: 10:30, 11:30, 14:00,
    // 15:00); without one, the API's clock alignment, as before calendars existed.
    if (chartState.calendar !== null) query.set("align", "session");
    if (chartState.adjust !== "none") query.set("adjust", chartState.adjust);
    if (start !== null) query.set("start", start);
    if (end !== null) query.set("end", end);
    return getJson<Bar[]>(`/v1/bars/${encodeURIComponent(symbol)}?${query}`);
  };
  const result = (page: Bar[]) => ({ page: page.slice(0, PAGE_BARS), more: page.length > PAGE_BARS });
  const row = rows.find((candidate) => candidate.symbol === symbol);
  const first = row?.start ?? null;
  const top = endMs ?? row?.end ?? null;
  // A chosen start bounds the range already; without the overview's first bar there is no floor.
  if (chartState.start !== null || first === null || top === null) return result(await ask(chartState.start));
  for (let span = PAGE_BARS * INTERVAL_MS[chartState.interval]! * WINDOW_SPANS; ; span *= 4) {
    const from = top - span;
    if (from <= first) return result(await ask(null));
    const page = await ask(String(from));
    if (page.length > PAGE_BARS) return result(page);
  }
}

/** A fresh load (`reset`: the chart is emptied first) or the next older page. */
async function loadBars(reset: boolean): Promise<void> {
  const symbol = chartState.symbol;
  if (symbol === null) return;
  if (reset) {
    chartState.generation++;
    chartState.bars = [];
    chartState.more = false;
    draw();
  } else if (chartState.loading || !chartState.more) return;
  const generation = chartState.generation;
  chartState.loading = true;
  chartElement.dataset.state = "loading";
  if (reset) chartElement.dataset.more = "no";
  let failed = true;
  try {
    const oldest = reset ? undefined : chartState.bars[0]?.timestamp;
    // Older pages end at the oldest bar shown, inclusive: its bucket comes back (cut short by
    // the range, or whole) under that bar's timestamp and is dropped below. Ending just before
    // it instead would cut the bucket before it when bars are stamped at their end (a day's
    // closing bar at next midnight).
    const { page, more } =
      oldest === undefined ? await fetchPage(symbol, chartState.end, null) : await fetchPage(symbol, String(oldest), oldest);
    if (generation !== chartState.generation) return;
    page.reverse();
    const older = oldest === undefined ? page : page.filter((bar) => bar.timestamp < oldest);
    chartState.more = more;
    const view = reset ? null : chart.timeScale().getVisibleLogicalRange();
    chartState.bars = reset ? older : [...older, ...chartState.bars];
    draw();
    const count = chartState.bars.length;
    if (view !== null) chart.timeScale().setVisibleLogicalRange({ from: view.from + older.length, to: view.to + older.length });
    else if (count > 0) chart.timeScale().setVisibleLogicalRange({ from: Math.max(-0.5, count - VISIBLE_BARS), to: count + 2 });
    chartElement.dataset.more = chartState.more ? "yes" : "no";
    if (reset) followChart();
    failed = false;
  } finally {
    if (generation === chartState.generation) {
      chartState.loading = false;
      chartElement.dataset.state = failed ? "error" : "ready";
    }
  }
  // Still near the left edge after drawing (a short series fills the view): fetch on.
  const range = chart.timeScale().getVisibleLogicalRange();
  if (generation === chartState.generation && chartState.more && range !== null && range.from < LOAD_MARGIN) await loadBars(false);
}

const ADJUST_LABELS: Record<string, string> = { none: "", qfq: " · 前复权", hfq: " · 后复权" };

/** The chart's heading and marks: symbol, interval, adjustment, and the calendar its buckets follow. */
function showChartTitle(): void {
  const { symbol, interval, calendar, adjust } = chartState;
  chartElement.dataset.interval = interval;
  chartElement.dataset.adjust = adjust;
  chartElement.dataset.align = calendar === null ? "clock" : "session";
  element("chart-title").textContent = `${symbol} · ${interval}${ADJUST_LABELS[adjust]}${calendar === null ? "" : ` · ${calendar} sessions`}`;
}

/**
 * Shows `symbol` (again, after a new range or an import): asks which calendar it follows, then
 * loads its bars (session-aligned when it has one) and, beside them, its completeness strip.
 */
async function selectSymbol(symbol: string): Promise<void> {
  const selection = ++chartState.selection;
  chartState.symbol = symbol;
  chartState.calendar = null;
  // The previous symbol's bars go now, not once the calendar is known: nothing of it may stay
  // under the new title, and the chart reads as loading meanwhile.
  chartState.generation++;
  chartState.bars = [];
  draw();
  chartElement.dataset.state = "loading";
  chartElement.dataset.symbol = symbol;
  showChartTitle();
  element<HTMLSelectElement>("symbol").value = symbol;
  for (const tr of element("overview").querySelectorAll("tbody tr")) {
    tr.setAttribute("aria-selected", String((tr as HTMLElement).dataset.symbol === symbol));
  }
  hideStrip(symbol, "loading");
  let calendar: string | null;
  try {
    ({ calendar } = await getJson<SymbolCalendar>(`/v1/symbols/${encodeURIComponent(symbol)}/calendar`));
  } catch (error) {
    if (selection === chartState.selection) chartElement.dataset.state = "error";
    throw error;
  }
  if (selection !== chartState.selection) return;
  chartState.calendar = calendar;
  showChartTitle();
  void run("completeness", () => loadStrip(symbol, calendar, selection));
  await loadBars(true);
}

/** Chooses one of a button group's buttons (`data-<key>`) and reloads the chart's bars. */
async function selectChartOption(key: "interval" | "adjust", group: string, value: string): Promise<void> {
  chartState[key] = value;
  for (const button of element(group).querySelectorAll<HTMLButtonElement>("button")) {
    button.setAttribute("aria-pressed", String(button.dataset[key] === value));
  }
  showChartTitle();
  // The strip counts minutes, whatever the interval or prices: it stays as it is.
  if (chartState.symbol !== null) await loadBars(true);
}

// ---------------------------------------------------------------------------------------------
// The completeness strip: one cell per trading day under the chart

/**
 * Calendar days the strip covers, up to the chart's newest bar: about 60 A-share trading days.
 * The API counts only the bars inside the window, so the cost stays the same however long the
 * symbol's history grows.
 */
const STRIP_CALENDAR_DAYS = 90;
/** Missing ranges listed in a cell's tooltip; the rest are counted. */
const STRIP_RANGES_LISTED = 8;

/** The days the strip asks about (YYYY-MM-DD, inclusive), or null when there are none to ask about. */
function stripDays(symbol: string): { from: string; to: string } | null {
  const row = rows.find((candidate) => candidate.symbol === symbol);
  if (!row || row.start === null || row.end === null) return null;
  // An end-stamped bar at midnight closes the day before.
  const dayOf = (timestamp: number) => localDate(barStamp === "end" ? timestamp - 1 : timestamp, timezone);
  const newest = dayOf(row.end);
  const to = chartState.lastDay !== "" && chartState.lastDay < newest ? chartState.lastDay : newest;
  const earliest = isoDate(dateWallMs(to) - (STRIP_CALENDAR_DAYS - 1) * DAY_MS);
  // Days before the symbol's first bar are before its history, not gaps in it.
  const first = dayOf(row.start);
  if (to < first) return null; // a range that ends before the history starts
  return { from: first > earliest ? first : earliest, to };
}

/** Empties the strip while `symbol`'s report loads (it keeps its place), or hides it: no calendar, no report. */
function hideStrip(symbol: string, state: "loading" | "none"): void {
  const strip = element("completeness");
  if (state === "none") strip.hidden = true;
  strip.dataset.state = state;
  strip.dataset.symbol = symbol;
  showStripCells([], "", "");
}

/** The cells and the dates at the strip's two ends (it spans its own window, not the chart's axis). */
function showStripCells(cells: readonly HTMLElement[], first: string, last: string): void {
  element("completeness-days").replaceChildren(...cells);
  element("completeness-first").textContent = first;
  element("completeness-last").textContent = last;
  if (cells.length === 0) element("completeness-summary").textContent = "";
}

/** The API's 422 for a symbol without a calendar (it lost one since the page asked): not a failure. */
function isNoCalendar(body: unknown): boolean {
  const details = (body as { error?: { details?: unknown } } | null)?.error?.details;
  return Array.isArray(details) && details.some((issue) => (issue as { field?: unknown }).field === "calendar");
}

async function loadStrip(symbol: string, calendar: string | null, selection: number): Promise<void> {
  const days = stripDays(symbol);
  if (calendar === null || days === null) return hideStrip(symbol, "none");
  const strip = element("completeness");
  const range = dayRange(days.from, days.to);
  const query = new URLSearchParams({ start: range.start!, end: range.end! });
  const response = await api(`/v1/bars/${encodeURIComponent(symbol)}/completeness?${query}`);
  if (selection !== chartState.selection) {
    await response.text(); // another symbol or range was chosen meanwhile
    return;
  }
  if (response.status === 422 && isNoCalendar(await response.clone().json().catch(() => null))) {
    await response.text();
    return hideStrip(symbol, "none");
  }
  if (!response.ok) {
    const error = await failure(response);
    strip.hidden = false;
    strip.dataset.state = "error";
    showStripCells([], "", "");
    element("completeness-summary").textContent = `completeness: ${error.message}`;
    throw error;
  }
  drawStrip(symbol, days, (await response.json()) as Completeness);
}

/** How a day reads: every expected bar there, some, or none. */
function dayState(day: DayCompleteness): "complete" | "partial" | "empty" {
  return day.present === day.expected ? "complete" : day.present === 0 ? "empty" : "partial";
}

/** A partial day's shade, 1 (most bars missing) to 4 (a few minutes missing). */
function dayLevel(day: DayCompleteness): number {
  const share = day.present / day.expected;
  return share >= 0.95 ? 4 : share >= 0.75 ? 3 : share >= 0.5 ? 2 : 1;
}

/** Missing bars by their stamps in the store's zone: "10:01-10:30", one minute alone as "10:05". */
function formatMissing(range: MissingRange): string {
  const start = wallClock(range.start, timezone).slice(11);
  const end = wallClock(range.end, timezone).slice(11);
  return start === end ? start : `${start}\u2013${end}`;
}

function dayTitle(day: DayCompleteness): string {
  const lines = [`${day.date}: ${formatCount(day.present)} of ${formatCount(day.expected)} bars`];
  if (day.missing.length > 0) {
    const listed = day.missing.slice(0, STRIP_RANGES_LISTED).map(formatMissing).join(", ");
    const more = day.missing.length - STRIP_RANGES_LISTED;
    lines.push(`missing (${timezone}): ${listed}${more > 0 ? ` and ${more} more ranges` : ""}`);
  }
  return lines.join("\n");
}

function drawStrip(symbol: string, days: { from: string; to: string }, report: Completeness): void {
  const strip = element("completeness");
  const counts = { complete: 0, partial: 0, empty: 0 };
  const cells = report.days.map((day) => {
    const cell = document.createElement("li");
    const state = dayState(day);
    counts[state]++;
    cell.dataset.date = day.date;
    cell.dataset.state = state;
    if (state === "partial") cell.dataset.level = String(dayLevel(day));
    cell.dataset.present = String(day.present);
    cell.dataset.expected = String(day.expected);
    cell.title = dayTitle(day);
    return cell;
  });
  showStripCells(cells, report.days[0]?.date ?? "", report.days.at(-1)?.date ?? "");
  const notes = [
    `${report.calendar}, ${days.from} to ${days.to}: ${formatCount(report.days.length)} trading days`,
    `${formatCount(counts.complete)} complete`,
    `${formatCount(counts.partial)} partial`,
    `${formatCount(counts.empty)} without bars`,
  ];
  if (report.outside > 0) notes.push(`${formatCount(report.outside)} bars off the session minutes`);
  if (report.nonTradingDays.length > 0) notes.push(`bars on closed days: ${report.nonTradingDays.join(", ")}`);
  element("completeness-summary").textContent = notes.join(" · ");
  strip.dataset.days = String(report.days.length);
  strip.dataset.partial = String(counts.partial);
  strip.dataset.empty = String(counts.empty);
  strip.dataset.symbol = symbol;
  strip.hidden = false;
  strip.dataset.state = "ready";
}

// ---------------------------------------------------------------------------------------------
// Health: the audit chain and the database's stats

async function loadHealth(): Promise<void> {
  const audit = element("audit");
  const stats = element("stats");
  const [verification, numbers] = await Promise.all([
    getJson<AuditVerification>("/v1/audit/verify"),
    getJson<MaintenanceStats>("/v1/maintenance/stats"),
  ]);
  audit.dataset.state = verification.ok ? "ok" : "broken";
  audit.dataset.checked = String(verification.checked);
  audit.textContent = verification.ok
    ? `intact (${formatCount(verification.checked)} entries)`
    : `BROKEN at entry ${verification.firstBadId} (${formatCount(verification.checked)} checked)`;
  const entries: [string, string, string][] = [
    ["journal", "journal mode", numbers.journalMode],
    ["file", "file size", formatBytes(numbers.fileBytes)],
    ["wal", "WAL size", formatBytes(numbers.walBytes)],
    ["pages", "pages", `${formatCount(numbers.pageCount)} x ${formatBytes(numbers.pageSize)}`],
    ["free", "free pages", formatCount(numbers.freePages)],
    ...Object.entries(numbers.rows).map(([table, count]): [string, string, string] => [`rows-${table}`, `${table} rows`, formatCount(count)]),
  ];
  stats.replaceChildren(
    ...entries.flatMap(([key, label, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.dataset.key = key;
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  stats.dataset.state = "ready";
}

// ---------------------------------------------------------------------------------------------
// Live: bars as they are stored, by any writer (GET /v1/stream)

/** A watch of the stream and how it is going: the chart's and the overview's. */
interface Follow {
  stop: AbortController;
}
let chartFollow: Follow | null = null;
let overviewFollow: Follow | null = null;
let overviewRefresh: ReturnType<typeof setTimeout> | undefined;
/** The overview is read again at most this often while bars arrive (it is one row per symbol). */
const OVERVIEW_REFRESH_MS = 1_000;

/**
 * Follows /v1/stream at `path`, calling `onBar` for each bar event. fetch, not EventSource: an
 * EventSource cannot send the token. A cut stream (or the server's `dropped`) resumes from the
 * last event's id after a pause; a refusal (4xx) ends it and is shown.
 */
function follow(path: string, onBar: (event: LiveEvent) => void): Follow {
  const stop = new AbortController();
  void run("live", async () => {
    let lastId: string | null = null;
    let pause = 500;
    while (!stop.signal.aborted) {
      try {
        const response = await api(path, { signal: stop.signal, headers: lastId === null ? {} : { "Last-Event-ID": lastId } });
        if (!response.ok) throw Object.assign(await failure(response), { refused: true });
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
          for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
            const fields = text.slice(0, end).split("\n");
            text = text.slice(end + 2);
            const field = (name: string) => fields.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
            const id = field("id");
            if (id !== undefined) lastId = id;
            const data = field("data");
            if (field("event") === "bar" && data !== undefined) onBar(JSON.parse(data) as LiveEvent);
            if (field("event") === "dropped" && data !== undefined) lastId = (JSON.parse(data) as { cursor: string }).cursor;
          }
          pause = 500;
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        if ((error as { refused?: boolean }).refused) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 5_000);
    }
  });
  return { stop };
}

interface LiveEvent {
  cursor: string;
  symbol: string;
  bar: Bar;
  final: boolean;
}

/** Follows the symbol on the chart, as it is drawn (interval, adjustment, alignment), when its range is open-ended. */
function followChart(): void {
  chartFollow?.stop.abort();
  chartFollow = null;
  const symbol = chartState.symbol;
  chartElement.dataset.live = "off";
  if (symbol === null || chartState.end !== null) return;
  const query = new URLSearchParams({ symbols: symbol });
  if (chartState.interval !== "1m") query.set("interval", chartState.interval);
  if (chartState.calendar !== null && chartState.interval !== "1m") query.set("align", "session");
  if (chartState.adjust !== "none") query.set("adjust", chartState.adjust);
  const generation = chartState.generation;
  chartFollow = follow(`/v1/stream?${query}`, (event) => {
    if (generation === chartState.generation) mergeBar(event.bar);
  });
  chartElement.dataset.live = "on";
}

let drawScheduled = false;

/** A bar from the stream: a new one at the end, or one the chart holds, replaced (a bucket forming). */
function mergeBar(bar: Bar): void {
  const bars = chartState.bars;
  let at = bars.length;
  while (at > 0 && bars[at - 1]!.timestamp >= bar.timestamp) at--;
  if (bars[at]?.timestamp === bar.timestamp) bars[at] = bar;
  else if (at > 0 || !chartState.more) bars.splice(at, 0, bar);
  else return; // older than every bar loaded, with older pages still to load: they will hold it
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(() => {
    drawScheduled = false;
    draw();
  });
}

/** Every symbol's bars as they arrive: the overview's counts and ranges are read again, at most once a second. */
function followOverview(): void {
  overviewFollow ??= follow("/v1/stream", () => {
    overviewRefresh ??= setTimeout(() => {
      overviewRefresh = undefined;
      void run("page", loadOverview);
    }, OVERVIEW_REFRESH_MS);
  });
}

// ---------------------------------------------------------------------------------------------
// CSV import, with upload progress (XMLHttpRequest: fetch reports no upload progress)

/** How the server read an uploaded file (the answer's `file`). */
interface FileReading {
  profile: string;
  encoding: string;
  conversions: string[];
  assumed: string[];
}

/**
 * Where and as what a file goes, by its name, as `tradelite import` reads it: a TDX binary names
 * itself (`?file=`; a .day file is the daily series), Parquet and Arrow by their types, anything
 * else as a text bar file.
 */
function uploadOf(symbol: string, file: File): { url: string; type: string } {
  const path = `/v1/bars/${encodeURIComponent(symbol)}`;
  const name = file.name.toLowerCase();
  if (/^(sh|sz|bj)\d{6}\.(day|lc1|lc5)$/.test(name)) {
    return { url: `${path}?${name.endsWith(".day") ? "interval=1d&" : ""}file=${encodeURIComponent(name)}`, type: "application/octet-stream" };
  }
  if (name.endsWith(".parquet")) return { url: path, type: "application/vnd.apache.parquet" };
  if (name.endsWith(".arrows")) return { url: path, type: "application/vnd.apache.arrow.stream" };
  if (name.endsWith(".arrow") || name.endsWith(".feather")) return { url: path, type: "application/vnd.apache.arrow.file" };
  return { url: path, type: "text/csv" };
}

function postCsv(symbol: string, file: File, progress: HTMLProgressElement): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const upload = uploadOf(symbol, file);
    request.open("POST", upload.url);
    request.setRequestHeader("Content-Type", upload.type);
    for (const [name, value] of Object.entries(authorization())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      progress.value = event.loaded / event.total;
      progress.dataset.updates = String(Number(progress.dataset.updates ?? 0) + 1);
    };
    request.onload = () => resolve({ status: request.status, body: request.responseText });
    request.onerror = () => reject(new Error("the upload was cut off"));
    request.send(file);
  });
}

async function importCsv(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const symbol = element<HTMLInputElement>("import-symbol").value.trim();
  const file = element<HTMLInputElement>("import-file").files?.[0];
  const progress = element<HTMLProgressElement>("import-progress");
  const result = element<HTMLOutputElement>("import-result");
  if (symbol === "" || !file) return;
  progress.hidden = false;
  progress.value = 0;
  progress.dataset.updates = "0";
  result.dataset.state = "uploading";
  result.textContent = `uploading ${file.name}`;
  try {
    let sent = sessionStorage.getItem(TOKEN_KEY);
    let answer = await postCsv(symbol, file, progress);
    while (answer.status === 401) {
      // Only the token this upload sent is known to be wrong; another may have been stored since.
      if (sent !== null && sessionStorage.getItem(TOKEN_KEY) === sent) sessionStorage.removeItem(TOKEN_KEY);
      await askForToken(sent !== null);
      sent = sessionStorage.getItem(TOKEN_KEY);
      answer = await postCsv(symbol, file, progress);
    }
    if (answer.status !== 200) throw await failure(new Response(answer.body, { status: answer.status }));
    const { written, file: reading } = JSON.parse(answer.body) as { written: number; file?: FileReading };
    progress.value = 1;
    result.dataset.state = "done";
    result.dataset.written = String(written);
    result.dataset.profile = reading?.profile ?? "binary";
    // How a text file was read, as the CLI's summary says it: the profile, and units converted or assumed.
    const notes = reading ? [`read as ${reading.profile}`, reading.encoding, ...reading.conversions, ...reading.assumed.map((note) => `assumed ${note}`)] : [file.name];
    result.textContent = `${formatCount(written)} bars written to ${symbol} (${notes.join("; ")})`;
    await Promise.all([loadOverview(), loadHealth()]);
    if (chartState.symbol === symbol) await selectSymbol(symbol);
  } catch (error) {
    result.dataset.state = "error";
    result.textContent = (error as Error).message;
  }
}

// ---------------------------------------------------------------------------------------------
// Start

/** The last failure of each part of the page; the status line shows the newest. */
const failures = new Map<string, string>();

/**
 * Runs `work` for one part of the page (`area`), showing its failure in the status line instead
 * of leaving it unhandled. A later success of the same part clears its failure; another part's
 * success does not (the chart loading fine says nothing about the health panel).
 */
async function run(area: "page" | "chart" | "completeness" | "health" | "import" | "live", work: () => Promise<void>): Promise<void> {
  try {
    await work();
    failures.delete(area);
  } catch (error) {
    failures.delete(area);
    failures.set(area, (error as Error).message);
  }
  const newest = [...failures.values()].at(-1);
  if (newest !== undefined) showStatus(newest, true);
  else if (document.body.dataset.state === "ready" || area === "page") showStatus("ready");
}

async function start(): Promise<void> {
  // Escape would close the token dialog without a token, leaving every waiting request hanging.
  element<HTMLDialogElement>("token-dialog").addEventListener("cancel", (event) => event.preventDefault());
  // /v1/info, not /health: where the data is takes the token (/health says only that it is up).
  const answer = await api("/v1/info");
  if (!answer.ok) throw await failure(answer);
  const info = (await answer.json()) as Info;
  useTimezone(info.timezone);
  barStamp = info.barTimestamp;
  element("server").textContent = `${info.backend} · ${info.db.path} · ${info.timezone} · v${info.version}`;

  for (const th of element("overview").querySelectorAll<HTMLTableCellElement>("th")) {
    th.querySelector("button")!.addEventListener("click", () => {
      const key = th.dataset.key as RowKey;
      sortDirection = key === sortKey ? ((-sortDirection) as 1 | -1) : 1;
      sortKey = key;
      renderOverview();
    });
  }
  element<HTMLSelectElement>("symbol").addEventListener("change", (event) => void run("chart", () => selectSymbol((event.target as HTMLSelectElement).value)));
  for (const button of element("intervals").querySelectorAll<HTMLButtonElement>("button")) {
    button.addEventListener("click", () => void run("chart", () => selectChartOption("interval", "intervals", button.dataset.interval!)));
  }
  for (const button of element("adjust").querySelectorAll<HTMLButtonElement>("button")) {
    button.addEventListener("click", () => void run("chart", () => selectChartOption("adjust", "adjust", button.dataset.adjust!)));
  }
  element<HTMLFormElement>("chart-controls").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = element<HTMLInputElement>("range-start").value;
    const to = element<HTMLInputElement>("range-end").value;
    const range = dayRange(from, to);
    chartState.start = range.start;
    chartState.end = range.end;
    chartState.lastDay = to;
    if (chartState.symbol !== null) void run("chart", () => selectSymbol(chartState.symbol!));
  });
  element("range-clear").addEventListener("click", () => {
    element<HTMLInputElement>("range-start").value = "";
    element<HTMLInputElement>("range-end").value = "";
    chartState.start = null;
    chartState.end = null;
    chartState.lastDay = "";
    if (chartState.symbol !== null) void run("chart", () => selectSymbol(chartState.symbol!));
  });
  element<HTMLFormElement>("import").addEventListener("submit", (event) => void run("import", () => importCsv(event)));

  // The health panel loads on its own: a slow or failing audit check must not hold the chart.
  void run("health", loadHealth);
  await loadOverview();
  const first = [...rows].sort(compareRows).find((row) => row.count !== null);
  if (first) await run("chart", () => selectSymbol(first.symbol));
  followOverview();
  document.body.dataset.state = "ready";
}

void run("page", start);
