/**
 * The data browser in a real browser: `bun scripts/serve.ts` over a demo database (the real TDX
 * export of the Shanghai index on the XSHG calendar, with two gaps cut into it, and three
 * synthetic A-share series without a calendar, Asia/Shanghai, end-stamped bars), Debian's
 * Chromium through playwright-core. Every test fails on a page error, a console
 * error, a failed request, an unexpected 4xx/5xx or a request that leaves the server.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import { openDatabase, openStore } from "../../src/mod.ts";
import { PAGE_CSP } from "../../src/api/page.ts";
import { browserAvailable, openBrowserPage, type BrowserPage } from "../support/browser.ts";
import { killAllServers, PROJECT_ROOT, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";
import {
  DEMO_ALLDAY,
  DEMO_CACHED_SYMBOL,
  DEMO_REAL_CALENDAR,
  DEMO_REAL_GAPS,
  DEMO_REAL_SYMBOL,
  DEMO_SYNTHETIC,
  DEMO_TIMEZONE,
  writeDemoDatabase,
} from "../support/web-demo.ts";

const dir = tempDir("tradelite-web-");
const SCREENSHOT = join(PROJECT_ROOT, ".ci-out", "web", "data-browser.png");
const TOKEN = "page-test-token-0123456789";
const canRun = browserAvailable();
/** The real index's one-minute bars after the demo's gaps: the TDX export holds 100 days of 240. */
const REAL_MINUTES = 24_000 - DEMO_REAL_GAPS.partial.minutes - DEMO_REAL_GAPS.empty.minutes;

let server: ServerProcess;
let tokenServer: ServerProcess;
const pages: BrowserPage[] = [];

beforeAll(async () => {
  if (!canRun) return;
  const db = dir.file("demo.db");
  await writeDemoDatabase(db, dir.file("cache"));
  const env = { TRADELITE_DB: db, TRADELITE_CACHE_DIR: dir.file("cache"), TRADELITE_PORT: "0", TRADELITE_TIMEZONE: DEMO_TIMEZONE, TRADELITE_BAR_TIMESTAMP: "end" };
  [server, tokenServer] = await Promise.all([
    startServeProcess(env),
    (async () => {
      const tokenDb = dir.file("token.db");
      await writeDemoDatabase(tokenDb, dir.file("token-cache"));
      return startServeProcess({ ...env, TRADELITE_DB: tokenDb, TRADELITE_CACHE_DIR: dir.file("token-cache"), TRADELITE_TOKEN: TOKEN });
    })(),
  ]);
});

afterAll(async () => {
  for (const opened of pages) await opened.close().catch(() => {});
  await killAllServers();
  dir.cleanup();
});

async function api<T>(path: string, on: ServerProcess = server, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(on.url + path, { headers });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

async function open(on: ServerProcess = server, expectStatus?: (url: string, status: number) => boolean): Promise<BrowserPage> {
  const opened = await openBrowserPage(on.url, expectStatus);
  pages.push(opened);
  await opened.page.goto(`${on.url}/`);
  return opened;
}

async function ready(opened: BrowserPage): Promise<void> {
  await opened.page.locator("body[data-state=ready]").waitFor({ timeout: 20_000 });
}

/** The overview table as the page shows it: each row's raw values (data-value) by column. */
async function tableRows(opened: BrowserPage): Promise<Record<string, string>[]> {
  await opened.page.locator("#overview[data-state=ready]").waitFor();
  return opened.page.locator("#overview tbody tr").evaluateAll((rows) =>
    rows.map((row) =>
      Object.fromEntries(
        Array.from((row as unknown as { querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }> }).querySelectorAll("td")).map(
          (cell) => [cell.getAttribute("data-key"), cell.getAttribute("data-value")],
        ),
      ),
    ),
  );
}

/** Waits until the chart shows `symbol` at `interval` with every load finished. */
async function chartSettled(opened: BrowserPage, symbol: string, interval: string, more?: "yes" | "no"): Promise<number> {
  const selector = `#chart[data-symbol="${symbol}"][data-interval="${interval}"][data-state=ready]${more ? `[data-more=${more}]` : ""}`;
  await opened.page.locator(selector).waitFor({ timeout: 20_000 });
  return Number(await opened.page.locator("#chart").getAttribute("data-candles"));
}

/** The page's digest of what its chart holds (see draw() in src/web/app.ts), from the API's bars. */
function digestOf(bars: readonly { timestamp: number; close: number | null; volume: number | null }[]): string {
  let volume = 0;
  let close = 0;
  for (const bar of bars) {
    volume += bar.volume ?? 0;
    close += Math.round((bar.close ?? 0) * 100);
  }
  return [bars.length, bars[0]?.timestamp ?? "", bars.at(-1)?.timestamp ?? "", volume, close].join("|");
}

/** Drags the chart to the right, as a user scrolling back in time, until it has no older bars. */
async function scrollBackToTheStart(opened: BrowserPage): Promise<void> {
  const box = (await opened.page.locator("#chart").boundingBox())!;
  const more = async () => {
    // Read between loads only: a page on its way has not said yet whether there is more.
    await opened.page.locator("#chart:not([data-state=loading])").waitFor({ timeout: 20_000 });
    return opened.page.locator("#chart").getAttribute("data-more");
  };
  for (let drag = 0; drag < 80 && (await more()) !== "no"; drag++) {
    await opened.page.mouse.move(box.x + 60, box.y + 150);
    await opened.page.mouse.down();
    await opened.page.mouse.move(box.x + box.width - 120, box.y + 150, { steps: 4 });
    await opened.page.mouse.up();
  }
}

/** Waits until the chart holds exactly the bars of `digest` (digestOf). */
async function chartDigestBecomes(opened: BrowserPage, digest: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await chartDigest(opened)) !== digest) {
    if (Date.now() > deadline) throw new Error(`the chart holds ${await chartDigest(opened)}, not ${digest}`);
    await Bun.sleep(50);
  }
}

async function chartDigest(opened: BrowserPage): Promise<string | null> {
  return opened.page.locator("#chart").getAttribute("data-digest");
}

interface Overview {
  symbol: string;
  count: number;
  start: number;
  end: number;
}

describe.skipIf(!canRun)("the data browser in Chromium", () => {
  test("the overview table shows, row for row, what /v1/symbols and /v1/cache say; nothing loads from outside the server", async () => {
    const opened = await open();
    await ready(opened);
    const symbols = await api<Overview[]>("/v1/symbols");
    const cache = await api<{ symbol: string; row_count: number; size_bytes: number; last_compacted: number | null }[]>("/v1/cache");
    expect(symbols.length).toBe(2 + DEMO_SYNTHETIC.length);
    const rows = await tableRows(opened);
    expect(rows).toEqual(
      [...symbols]
        .sort((a, b) => a.symbol.localeCompare(b.symbol))
        .map((entry) => {
          const cached = cache.find((item) => item.symbol === entry.symbol);
          return {
            symbol: entry.symbol,
            count: String(entry.count),
            start: String(entry.start),
            end: String(entry.end),
            cacheRows: cached ? String(cached.row_count) : "",
            cacheBytes: cached ? String(cached.size_bytes) : "",
            lastCompacted: cached?.last_compacted ? String(cached.last_compacted) : "",
          };
        }),
    );
    expect(rows.find((row) => row.symbol === DEMO_CACHED_SYMBOL)!.cacheRows).not.toBe("");
    // Times read in the store's zone: the real index's first bar is 09:31 in Shanghai.
    const first = opened.page.locator(`#overview tbody tr[data-symbol="${DEMO_REAL_SYMBOL}"] td[data-key=start]`);
    expect(await first.textContent()).toBe("2022-12-16 09:31");
    expect(opened.requests.every((url) => url.startsWith(`${server.url}/`))).toBe(true);
    expect(opened.problems).toEqual([]);
  });

  test("a column header sorts the table by that column; a second click reverses it", async () => {
    const opened = await open();
    await ready(opened);
    const counts = async () => (await tableRows(opened)).map((row) => Number(row.count));
    await opened.page.locator("#overview th[data-key=count] button").click();
    const ascending = await counts();
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    expect(await opened.page.locator("#overview th[data-key=count]").getAttribute("aria-sort")).toBe("ascending");
    await opened.page.locator("#overview th[data-key=count] button").click();
    expect(await counts()).toEqual([...ascending].reverse());
    expect(await opened.page.locator("#overview th[data-key=count]").getAttribute("aria-sort")).toBe("descending");
    expect(opened.problems).toEqual([]);
  });

  test("a chosen symbol is drawn; switched to 1d, it draws as many candles as the API has daily bars", async () => {
    const opened = await open();
    await ready(opened);
    for (const { symbol, minutes } of DEMO_SYNTHETIC) {
      await opened.page.locator(`#overview tbody tr[data-symbol="${symbol}"]`).click();
      const drawn = await chartSettled(opened, symbol, "1m");
      expect(drawn).toBe(Math.min(minutes, 2_000));
    }
    await opened.page.locator(`#overview tbody tr[data-symbol="${DEMO_REAL_SYMBOL}"]`).click();
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1m", "yes");
    await opened.page.locator('#intervals button[data-interval="1d"]').click();
    const daily = await api<unknown[]>(`/v1/bars/${DEMO_REAL_SYMBOL}?interval=1d&align=session`);
    expect(daily.length).toBe(99); // the export holds 100 trading days; the demo deleted one
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "1d", "no")).toBe(daily.length);
    expect(await chartDigest(opened)).toBe(digestOf(daily as never));
    expect(await opened.page.locator("#chart-title").textContent()).toBe(`${DEMO_REAL_SYMBOL} · 1d · ${DEMO_REAL_CALENDAR} sessions`);
    await opened.page.locator(`#completeness[data-symbol="${DEMO_REAL_SYMBOL}"][data-state=ready]`).waitFor({ timeout: 20_000 });
    await opened.page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    expect(opened.problems).toEqual([]);
  });

  test("the 不复权 / 前复权 / 后复权 switch draws the API's raw, forward- and back-adjusted bars, and the title says which", async () => {
    const symbol = "000858.SZ";
    const overview = await api<Overview[]>("/v1/symbols");
    const last = overview.find((entry) => entry.symbol === symbol)!.end;
    // An ex-date on the symbol's last trading day: every earlier day moves, that one does not.
    const exDate = new Date(last + 8 * 3_600_000).toISOString().slice(0, 10);
    const put = await fetch(`${server.url}/v1/adjustments/${symbol}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ factors: [{ date: exDate, factor: 2 }] }) });
    expect(put.status).toBe(200);
    const opened = await open();
    await ready(opened);
    await opened.page.locator(`#overview tbody tr[data-symbol="${symbol}"]`).click();
    await chartSettled(opened, symbol, "1m");
    await opened.page.locator('#intervals button[data-interval="1d"]').click();
    await chartSettled(opened, symbol, "1d");
    const raw = await api<Overview[]>(`/v1/bars/${symbol}?interval=1d`);
    expect(await chartDigest(opened)).toBe(digestOf(raw as never));
    for (const [mode, label] of [["qfq", "前复权"], ["hfq", "后复权"]] as const) {
      await opened.page.locator(`#adjust button[data-adjust="${mode}"]`).click();
      await opened.page.locator(`#chart[data-adjust="${mode}"][data-state=ready]`).waitFor({ timeout: 20_000 });
      const adjusted = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${symbol}?interval=1d&adjust=${mode}`);
      expect(await chartDigest(opened)).toBe(digestOf(adjusted));
      expect(await chartDigest(opened)).not.toBe(digestOf(raw as never));
      expect(await opened.page.locator("#chart-title").textContent()).toBe(`${symbol} · 1d · ${label}`);
      expect(await opened.page.locator(`#adjust button[data-adjust="${mode}"]`).getAttribute("aria-pressed")).toBe("true");
    }
    await opened.page.locator('#adjust button[data-adjust="none"]').click();
    await opened.page.locator('#chart[data-adjust="none"][data-state=ready]').waitFor({ timeout: 20_000 });
    expect(await chartDigest(opened)).toBe(digestOf(raw as never));
    expect(opened.problems).toEqual([]);
  });

  test("scrolling back loads older pages lazily, until the chart holds exactly the API's bars", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator("#symbol").selectOption(DEMO_REAL_SYMBOL);
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1m");
    await opened.page.locator('#intervals button[data-interval="5m"]').click();
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "5m", "yes")).toBe(2_000);
    const all = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${DEMO_REAL_SYMBOL}?interval=5m&align=session`);
    expect(await chartDigest(opened)).toBe(digestOf(all.slice(-2_000)));
    expect(all.length).toBe(REAL_MINUTES / 5); // the demo's gaps are whole 5-minute bars
    const before = opened.requests.length;
    await scrollBackToTheStart(opened);
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "5m", "no")).toBe(all.length);
    // Not only as many: the same bars, none doubled, none cut short at a page's edge.
    expect(await chartDigest(opened)).toBe(digestOf(all as never));
    const older = opened.requests.slice(before).filter((url) => url.includes(`/v1/bars/${DEMO_REAL_SYMBOL}?`) && url.includes("&end="));
    expect(older.length).toBeGreaterThanOrEqual(2);
    expect(opened.problems).toEqual([]);
  });

  test("a date range shows exactly that range's bars, read as local dates", async () => {
    const opened = await open();
    await ready(opened);
    const symbol = DEMO_SYNTHETIC[1]!.symbol;
    await opened.page.locator("#symbol").selectOption(symbol);
    await chartSettled(opened, symbol, "1m");
    await opened.page.locator("#range-start").fill("2024-03-05");
    await opened.page.locator("#range-end").fill("2024-03-07");
    await opened.page.locator("#range-apply").click();
    // The server's bars are end-stamped: 5 to 7 March is after 5 March 00:00 up to 8 March 00:00.
    const range = `start=${encodeURIComponent("2024-03-05 00:00:00.001")}&end=${encodeURIComponent("2024-03-08 00:00:00")}`;
    const inRange = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${symbol}?${range}`);
    expect(inRange.length).toBe(3 * 240);
    expect(await chartSettled(opened, symbol, "1m", "no")).toBe(inRange.length);
    expect(await chartDigest(opened)).toBe(digestOf(inRange));
    await opened.page.locator('#intervals button[data-interval="1h"]').click();
    const hourly = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${symbol}?interval=1h&${range}`);
    expect(await chartSettled(opened, symbol, "1h", "no")).toBe(hourly.length);
    expect(await chartDigest(opened)).toBe(digestOf(hourly));
    await opened.page.locator("#range-clear").click();
    expect(await chartSettled(opened, symbol, "1h", "no")).toBe((await api<unknown[]>(`/v1/bars/${symbol}?interval=1h`)).length);
    expect(opened.problems).toEqual([]);
  });

  test("the health panel shows the audit chain's verification and the database's stats as the API gives them", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator("#audit[data-state=ok]").waitFor();
    await opened.page.locator("#stats[data-state=ready]").waitFor();
    const verification = await api<{ ok: boolean; checked: number }>("/v1/audit/verify");
    const stats = await api<{ journalMode: string; rows: Record<string, number> }>("/v1/maintenance/stats");
    expect(verification.ok).toBe(true);
    expect(await opened.page.locator("#audit").getAttribute("data-state")).toBe("ok");
    expect(Number(await opened.page.locator("#audit").getAttribute("data-checked"))).toBe(verification.checked);
    expect(await opened.page.locator('#stats dd[data-key="journal"]').textContent()).toBe(stats.journalMode);
    expect(await opened.page.locator('#stats dd[data-key="rows-market_data"]').textContent()).toBe(stats.rows.market_data!.toLocaleString("en-US"));
    expect(opened.problems).toEqual([]);
  });

  test("a CSV uploaded through the form is stored whole and appears in the overview; a bad one shows the API's error and writes nothing", async () => {
    const opened = await open(server, (url, status) => status === 400 && url.includes("/v1/bars/300750.SZ"));
    await ready(opened);
    const rows = 1_500;
    const t0 = Date.UTC(2024, 3, 1, 1, 31);
    const lines = ["timestamp,open,high,low,close,volume,amount"];
    for (let i = 0; i < rows; i++) {
      const price = 180 + (i % 17) / 10;
      lines.push(`${new Date(t0 + i * 60_000).toISOString()},${price},${price + 0.2},${price - 0.1},${price + 0.1},${100 * (i + 1)},${price * 100 * (i + 1)}`);
    }
    const bad = dir.file("bad.csv");
    await Bun.write(bad, "timestamp,open,high,close,volume,amount\n2024-04-01T01:31:00Z,1,2,1.5,100,150\n");
    await opened.page.locator("#import-symbol").fill("300750.SZ");
    await opened.page.locator("#import-file").setInputFiles(bad);
    await opened.page.locator("#import button[type=submit]").click();
    await opened.page.locator("#import-result[data-state=error]").waitFor();
    expect(await opened.page.locator("#import-result").textContent()).toContain("no low");
    expect((await api<Overview[]>("/v1/symbols")).some((entry) => entry.symbol === "300750.SZ")).toBe(false);

    const good = dir.file("good.csv");
    await Bun.write(good, `${lines.join("\n")}\n`);
    // A slow uplink (Chromium's own network emulation), so the upload reports its progress.
    const cdp = await opened.page.context().newCDPSession(opened.page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
    await opened.page.locator("#import-file").setInputFiles(good);
    await opened.page.locator("#import button[type=submit]").click();
    await opened.page.locator("#import-result[data-state=done]").waitFor();
    expect(await opened.page.locator("#import-result").getAttribute("data-written")).toBe(String(rows));
    expect(await opened.page.locator("#import-result").textContent()).toContain("(read as cache; utf-8)");
    expect(await opened.page.locator("#import-progress").evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(1);
    expect(Number(await opened.page.locator("#import-progress").getAttribute("data-updates"))).toBeGreaterThanOrEqual(2);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const stored = (await api<Overview[]>("/v1/symbols")).find((entry) => entry.symbol === "300750.SZ");
    expect(stored).toEqual({ symbol: "300750.SZ", count: rows, start: t0, end: t0 + (rows - 1) * 60_000 });
    await opened.page.locator('#overview[data-state=ready] tbody tr[data-symbol="300750.SZ"]').waitFor();
    const shown = (await tableRows(opened)).find((row) => row.symbol === "300750.SZ");
    expect(shown).toMatchObject({ count: String(rows), start: String(t0), end: String(t0 + (rows - 1) * 60_000) });
    expect(opened.problems).toEqual([]);
  });
});

describe.skipIf(!canRun)("vendor files through the form", () => {
  test("a TDX export in GBK (title, tab-padded header, footer) lands as tradelite import lands it, and the page says how it was read", async () => {
    const opened = await open();
    await ready(opened);
    const file = join(import.meta.dir, "..", "fixtures", "vendor", "SH#601003-tdx-export-raw-gbk.txt");
    await opened.page.locator("#import-symbol").fill("601003.SH");
    await opened.page.locator("#import-file").setInputFiles(file);
    await opened.page.locator("#import button[type=submit]").click();
    await opened.page.locator("#import-result[data-state=done]").waitFor();
    expect(await opened.page.locator("#import-result").getAttribute("data-profile")).toBe("tdx");
    expect(await opened.page.locator("#import-result").textContent()).toContain("2 bars written to 601003.SH (read as tdx; gbk; assumed 成交量 read as shares");
    // The CLI, into a database of its own with the server's zone, stores the same bars.
    const cliDb = dir.file("cli-601003.db");
    const run = await cli(["import", file, "--symbol", "601003.SH"], { TRADELITE_DB: cliDb, TRADELITE_TIMEZONE: DEMO_TIMEZONE });
    expect(run.code).toBe(0);
    const db = openDatabase({ path: cliDb, readonly: true });
    try {
      // Dates alone: the daily series on both sides.
      const daily = { interval: "1d", source: "stored" } as const;
      expect(await api<unknown[]>("/v1/bars/601003.SH?interval=1d&source=stored")).toEqual(db.getBars("601003.SH", daily));
      expect(db.getBars("601003.SH", daily).map((bar) => bar.close)).toEqual([7.44, 7.48]);
    } finally {
      db.close();
    }
    expect(opened.problems).toEqual([]);
  });

  test("a TDX .day binary goes to the symbol's daily series, as tradelite import puts it", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator("#import-symbol").fill("000001.SZ");
    await opened.page.locator("#import-file").setInputFiles(join(import.meta.dir, "..", "fixtures", "calendar", "sz000001.day"));
    await opened.page.locator("#import button[type=submit]").click();
    await opened.page.locator("#import-result[data-state=done]").waitFor();
    expect(await opened.page.locator("#import-result").getAttribute("data-written")).toBe("4995");
    expect((await api<unknown[]>("/v1/bars/000001.SZ?interval=1d&source=stored")).length).toBe(4_995);
    expect(opened.problems).toEqual([]);
  });
});

describe.skipIf(!canRun)("the data browser when things go wrong, and across midnight", () => {
  test("a failed load empties the chart and says so (no bars of the previous symbol stay under the new title); the next choice draws", async () => {
    const failing = DEMO_SYNTHETIC[1]!.symbol;
    const opened = await open(server, (url, status) => status === 503 && url.includes(`/v1/bars/${failing}?`));
    await ready(opened);
    const shown = DEMO_SYNTHETIC[0]!.symbol;
    await opened.page.locator("#symbol").selectOption(shown);
    await chartSettled(opened, shown, "1m");
    await opened.page.route(`**/v1/bars/${failing}?**`, (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "UNAVAILABLE", message: "worker busy", details: null } }) }),
    );
    await opened.page.locator("#symbol").selectOption(failing);
    await opened.page.locator(`#chart[data-symbol="${failing}"][data-state=error]`).waitFor();
    expect(await opened.page.locator("#chart").getAttribute("data-candles")).toBe("0");
    expect(await opened.page.locator("#status").textContent()).toBe("worker busy");
    await opened.page.unroute(`**/v1/bars/${failing}?**`);
    await opened.page.locator(`#overview tbody tr[data-symbol="${failing}"]`).click();
    const expected = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${failing}?interval=1m`);
    expect(expected.length).toBeGreaterThan(2_000);
    expect(await chartSettled(opened, failing, "1m", "yes")).toBe(2_000);
    expect(await chartDigest(opened)).toBe(digestOf(expected.slice(-2_000)));
    expect(await opened.page.locator("#status").textContent()).toBe("ready");
    expect(opened.problems).toEqual([]);
  });

  test("a failing health panel does not hold the chart", async () => {
    const opened = await openBrowserPage(server.url, (url, status) => status === 500 && url.endsWith("/v1/audit/verify"));
    pages.push(opened);
    await opened.page.route("**/v1/audit/verify", (route) =>
      route.fulfill({ status: 500, contentType: "application/json", body: JSON.stringify({ error: { code: "INTERNAL", message: "internal error", details: null } }) }),
    );
    await opened.page.goto(`${server.url}/`);
    await ready(opened);
    expect(Number(await opened.page.locator("#chart").getAttribute("data-candles"))).toBeGreaterThan(0);
    expect(await opened.page.locator("#audit").getAttribute("data-state")).toBe("loading");
    expect(await opened.page.locator("#status").getAttribute("class")).toBe("error");
    expect(opened.problems).toEqual([]);
  });

  test("a 24-hour market with end-stamped bars: days, hours and paged minutes across midnight are the API's", async () => {
    const opened = await open();
    await ready(opened);
    const symbol = DEMO_ALLDAY.symbol;
    type ApiBar = { timestamp: number; close: number; volume: number };
    await opened.page.locator("#symbol").selectOption(symbol);
    // 4,320 minutes: three pages, whose edges fall at different times of day.
    const minutes = await api<ApiBar[]>(`/v1/bars/${encodeURIComponent(symbol)}`);
    expect(minutes.length).toBe(DEMO_ALLDAY.days * 1_440);
    await scrollBackToTheStart(opened);
    expect(await chartSettled(opened, symbol, "1m", "no")).toBe(minutes.length);
    expect(await chartDigest(opened)).toBe(digestOf(minutes));
    for (const interval of ["1h", "1d"]) {
      await opened.page.locator(`#intervals button[data-interval="${interval}"]`).click();
      const expected = await api<ApiBar[]>(`/v1/bars/${encodeURIComponent(symbol)}?interval=${interval}`);
      await chartSettled(opened, symbol, interval, "no");
      expect(await chartDigest(opened)).toBe(digestOf(expected));
    }
    // Three days, each closed by its 00:00 bar (end-stamped): three daily candles.
    expect(await opened.page.locator("#chart").getAttribute("data-candles")).toBe("3");
    // One chosen day is its 1,440 minutes: 00:01 up to and including the next 00:00.
    await opened.page.locator('#intervals button[data-interval="1m"]').click();
    await opened.page.locator("#range-start").fill("2024-03-02");
    await opened.page.locator("#range-end").fill("2024-03-02");
    await opened.page.locator("#range-apply").click();
    const day = minutes.filter((bar) => bar.timestamp > Date.parse("2024-03-02T00:00:00+08:00") && bar.timestamp <= Date.parse("2024-03-03T00:00:00+08:00"));
    expect(day.length).toBe(1_440);
    await opened.page.locator(`#chart[data-digest="${digestOf(day)}"][data-state=ready]`).waitFor();
    expect(opened.problems).toEqual([]);
  });
});

/** The completeness strip's cells as the page drew them. */
async function stripCells(opened: BrowserPage): Promise<{ date: string; state: string; level: string | null; title: string }[]> {
  return opened.page.locator("#completeness-days li").evaluateAll((cells) =>
    cells.map((cell) => {
      const read = (name: string) => (cell as unknown as { getAttribute(name: string): string | null }).getAttribute(name);
      return { date: read("data-date")!, state: read("data-state")!, level: read("data-level"), title: read("title")! };
    }),
  );
}

/** YYYY-MM-DD `days` before `date`. */
function daysBefore(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

describe.skipIf(!canRun)("the data browser and exchange calendars", () => {
  test("a symbol on a calendar is read session-aligned: its hour candles are 10:30, 11:30, 14:00 and 15:00, four a trading day", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator(`#overview tbody tr[data-symbol="${DEMO_REAL_SYMBOL}"]`).click();
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1m");
    expect(await opened.page.locator("#chart").getAttribute("data-align")).toBe("session");
    await opened.page.locator('#intervals button[data-interval="1h"]').click();
    // 99 trading days with bars (the demo deleted one): one page.
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "1h", "no")).toBe(99 * 4);
    expect(await opened.page.locator("#chart").getAttribute("data-times")).toBe("10:30 11:30 14:00 15:00");
    expect(await opened.page.locator("#chart-title").textContent()).toBe(`${DEMO_REAL_SYMBOL} · 1h · ${DEMO_REAL_CALENDAR} sessions`);
    const hourly = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${DEMO_REAL_SYMBOL}?interval=1h&align=session`);
    expect(await chartDigest(opened)).toBe(digestOf(hourly));
    const asked = opened.requests.filter((url) => url.includes(`/v1/bars/${DEMO_REAL_SYMBOL}?`));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((url) => new URL(url).searchParams.get("align") === "session")).toBe(true);

    // Two hours: one bucket a session, closing at the lunch break and at the close.
    await opened.page.locator('#intervals button[data-interval="2h"]').click();
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "2h", "no")).toBe(99 * 2);
    expect(await opened.page.locator("#chart").getAttribute("data-times")).toBe("11:30 15:00");
    // A month of trading days, December 2022 to May 2023.
    await opened.page.locator('#intervals button[data-interval="1M"]').click();
    const monthly = await api<{ timestamp: number; close: number; volume: number }[]>(`/v1/bars/${DEMO_REAL_SYMBOL}?interval=1M&align=session`);
    expect(monthly.length).toBe(6);
    expect(await chartSettled(opened, DEMO_REAL_SYMBOL, "1M", "no")).toBe(monthly.length);
    expect(await chartDigest(opened)).toBe(digestOf(monthly));

    // A symbol without a calendar keeps the clock's hours, and its requests say nothing of sessions.
    const symbol = DEMO_SYNTHETIC[0]!.symbol;
    await opened.page.locator('#intervals button[data-interval="1h"]').click();
    await opened.page.locator("#symbol").selectOption(symbol);
    await chartSettled(opened, symbol, "1h", "no");
    expect(await opened.page.locator("#chart").getAttribute("data-align")).toBe("clock");
    expect(await opened.page.locator("#chart-title").textContent()).toBe(`${symbol} · 1h`);
    expect(await chartDigest(opened)).toBe(digestOf(await api(`/v1/bars/${symbol}?interval=1h`)));
    expect(opened.requests.filter((url) => url.includes(`/v1/bars/${symbol}?`)).some((url) => url.includes("align="))).toBe(false);
    expect(opened.problems).toEqual([]);
  });

  test("the completeness strip has one cell per trading day of its window, marking exactly the partial day and the day without bars", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator("#symbol").selectOption(DEMO_REAL_SYMBOL);
    await opened.page.locator(`#completeness[data-symbol="${DEMO_REAL_SYMBOL}"][data-state=ready]`).waitFor({ timeout: 20_000 });
    expect(await opened.page.locator("#completeness").isVisible()).toBe(true);

    // The window: 90 calendar days up to the newest bar's day (the export ends 2023-05-18), never
    // the whole history (which starts 2022-12-16).
    const last = "2023-05-18";
    const first = daysBefore(last, 89);
    const calendar = await api<{ days: string[] }>(`/v1/calendars/${DEMO_REAL_CALENDAR}`);
    const tradingDays = calendar.days.filter((day) => day >= first && day <= last);
    expect(tradingDays.length).toBeGreaterThanOrEqual(55);
    expect(tradingDays.length).toBeLessThanOrEqual(65);
    const cells = await stripCells(opened);
    expect(cells.map((cell) => cell.date)).toEqual(tradingDays);
    expect(await opened.page.locator("#completeness").getAttribute("data-days")).toBe(String(tradingDays.length));

    // Exactly the two days the demo cut are marked, each its own way.
    const marked = cells.filter((cell) => cell.state !== "complete");
    expect(marked.map(({ date, state }) => ({ date, state }))).toEqual([
      { date: DEMO_REAL_GAPS.partial.date, state: "partial" },
      { date: DEMO_REAL_GAPS.empty.date, state: "empty" },
    ]);
    // 210 of 240 bars, seven eighths: the second lightest of four shades.
    expect(marked[0]!.level).toBe("3");
    expect(marked[0]!.title).toBe(`${DEMO_REAL_GAPS.partial.date}: 210 of 240 bars\nmissing (${DEMO_TIMEZONE}): 10:01\u201310:30`);
    expect(marked[1]!.title).toBe(`${DEMO_REAL_GAPS.empty.date}: 0 of 240 bars\nmissing (${DEMO_TIMEZONE}): 09:31\u201311:30, 13:01\u201315:00`);
    expect(cells.find((cell) => cell.date === last)!.title).toBe(`${last}: 240 of 240 bars`);

    // Bounded on both ends (the page opens on this symbol, then it was chosen again: the same
    // window each time), and the API's own report agrees with every cell.
    const asked = opened.requests.filter((url) => url.includes(`/v1/bars/${DEMO_REAL_SYMBOL}/completeness`));
    expect(new Set(asked).size).toBe(1);
    const query = new URL(asked[0]!).searchParams;
    expect(query.get("start")).toBe(`${first} 00:00:00.001`);
    expect(query.get("end")).toBe("2023-05-19 00:00:00");
    const report = await api<{ days: { date: string; expected: number; present: number }[] }>(
      `/v1/bars/${DEMO_REAL_SYMBOL}/completeness?${query}`,
    );
    expect(cells.map((cell) => cell.date)).toEqual(report.days.map((day) => day.date));
    expect(cells.map((cell) => cell.state)).toEqual(
      report.days.map((day) => (day.present === day.expected ? "complete" : day.present === 0 ? "empty" : "partial")),
    );

    // The interval does not change the strip (it counts minutes): no new request.
    await opened.page.locator('#intervals button[data-interval="1h"]').click();
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1h", "no");
    expect(opened.requests.filter((url) => url.includes("/completeness")).length).toBe(asked.length);

    // A chosen range moves the window's end to the range's last day.
    await opened.page.locator("#range-start").fill("2023-04-01");
    await opened.page.locator("#range-end").fill("2023-04-30");
    await opened.page.locator("#range-apply").click();
    await opened.page.locator(`#completeness[data-state=ready] #completeness-days li:last-child[data-date="2023-04-28"]`).waitFor();
    const moved = await stripCells(opened);
    expect(moved.map((cell) => cell.date)).toEqual(calendar.days.filter((day) => day >= daysBefore("2023-04-30", 89) && day <= "2023-04-30"));
    expect(moved.filter((cell) => cell.state !== "complete").map((cell) => cell.date)).toEqual([DEMO_REAL_GAPS.partial.date]);
    await opened.page.locator("#completeness").screenshot({ path: join(PROJECT_ROOT, ".ci-out", "web", "completeness-strip.png") });
    expect(opened.problems).toEqual([]);
  });

  test("a symbol without a calendar has no strip, asks for no completeness and shows no error", async () => {
    const opened = await open();
    await ready(opened);
    await opened.page.locator("#symbol").selectOption(DEMO_REAL_SYMBOL);
    await opened.page.locator(`#completeness[data-symbol="${DEMO_REAL_SYMBOL}"][data-state=ready]`).waitFor({ timeout: 20_000 });
    for (const { symbol } of DEMO_SYNTHETIC) {
      expect(await api<{ symbol: string; calendar: string | null }>(`/v1/symbols/${symbol}/calendar`)).toEqual({ symbol, calendar: null });
      await opened.page.locator("#symbol").selectOption(symbol);
      await chartSettled(opened, symbol, "1m");
      await opened.page.locator(`#completeness[data-symbol="${symbol}"][data-state=none]`).waitFor({ state: "attached" });
      expect(await opened.page.locator("#completeness").isHidden()).toBe(true);
      expect(await opened.page.locator("#completeness-days li").count()).toBe(0);
    }
    expect(opened.requests.filter((url) => url.includes("/completeness")).every((url) => url.includes(`/v1/bars/${DEMO_REAL_SYMBOL}/`))).toBe(true);
    expect(await opened.page.locator("#status").textContent()).toBe("ready");
    expect(opened.problems).toEqual([]);
  });

  test("a calendar taken away meanwhile (the API's 422) hides the strip quietly; a real failure says so", async () => {
    const completeness = `**/v1/bars/${encodeURIComponent(DEMO_REAL_SYMBOL)}/completeness?**`;
    const opened = await open(server, (url, status) => (status === 422 || status === 503) && url.includes("/completeness"));
    await ready(opened);
    const symbol = DEMO_SYNTHETIC[0]!.symbol;
    await opened.page.locator("#symbol").selectOption(symbol);
    await chartSettled(opened, symbol, "1m");
    const fail = (status: number, code: string, message: string, field: string) =>
      opened.page.route(completeness, (route) =>
        route.fulfill({ status, contentType: "application/json", body: JSON.stringify({ error: { code, message, details: [{ field, message }] } }) }),
      );

    await fail(422, "VALIDATION", `invalid input: calendar: no calendar for ${DEMO_REAL_SYMBOL}`, "calendar");
    await opened.page.locator("#symbol").selectOption(DEMO_REAL_SYMBOL);
    await opened.page.locator(`#completeness[data-symbol="${DEMO_REAL_SYMBOL}"][data-state=none]`).waitFor({ state: "attached" });
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1m");
    expect(await opened.page.locator("#completeness").isHidden()).toBe(true);
    expect(await opened.page.locator("#status").textContent()).toBe("ready");

    await opened.page.unroute(completeness);
    await fail(503, "UNAVAILABLE", "worker busy", "store");
    await opened.page.locator("#symbol").selectOption(symbol);
    await chartSettled(opened, symbol, "1m");
    await opened.page.locator("#symbol").selectOption(DEMO_REAL_SYMBOL);
    await opened.page.locator(`#completeness[data-symbol="${DEMO_REAL_SYMBOL}"][data-state=error]`).waitFor();
    expect(await opened.page.locator("#completeness-summary").textContent()).toContain("worker busy");
    await opened.page.locator("#status.error").waitFor();
    expect(await opened.page.locator("#status").textContent()).toContain("worker busy");
    // The chart is not held by the strip's failure.
    await chartSettled(opened, DEMO_REAL_SYMBOL, "1m");
    expect(opened.problems).toEqual([]);
  });
});

describe.skipIf(!canRun)("the data browser on a server with a token", () => {
  test("the page asks for the token once (again when it is refused), keeps it for the tab, and sends it on every request", async () => {
    const unauthorized: string[] = [];
    const opened = await open(tokenServer, (url, status) => {
      if (status !== 401) return false;
      unauthorized.push(url);
      return true;
    });
    const dialog = opened.page.locator("#token-dialog[open]");
    await dialog.waitFor();
    // Escape does not dismiss the question (every waiting request would hang without an answer).
    await opened.page.keyboard.press("Escape");
    expect(await dialog.count()).toBe(1);
    await opened.page.locator("#token").fill("not-the-token-but-long-enough");
    await opened.page.locator("#token-form button[type=submit]").click();
    await opened.page.locator("#token-dialog[open] #token-error:not([hidden])").waitFor();
    await opened.page.locator("#token").fill(TOKEN);
    await opened.page.locator("#token-form button[type=submit]").click();
    await ready(opened);
    expect(await dialog.count()).toBe(0);
    expect(await opened.page.evaluate("sessionStorage.getItem('tradelite.token')")).toBe(TOKEN);
    const symbols = await api<Overview[]>("/v1/symbols", tokenServer, { authorization: `Bearer ${TOKEN}` });
    expect((await tableRows(opened)).map((row) => row.symbol).sort()).toEqual(symbols.map((entry) => entry.symbol).sort());
    expect(unauthorized.length).toBeGreaterThanOrEqual(2); // without a token, then with the wrong one

    // A reload keeps the token: no question, no 401.
    const refusedBefore = unauthorized.length;
    await opened.page.reload();
    await ready(opened);
    expect(await dialog.count()).toBe(0);
    expect(unauthorized.length).toBe(refusedBefore);
    expect(opened.problems).toEqual([]);
  });
});

describe.skipIf(!canRun)("the data browser, live", () => {
  test("bars stored while the page is open appear on the chart and in the overview's counts without a reload", async () => {
    const symbol = "688981.SH";
    const T = Date.parse("2024-03-01T01:31:00Z");
    const bars = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => {
        const close = 40 + (from + i) / 10;
        return { timestamp: T + (from + i) * 60_000, open: close - 0.1, high: close + 0.2, low: close - 0.2, close, volume: 1_000 + from + i, amount: (1_000 + from + i) * close };
      });
    const post = async (rows: unknown[]) => {
      const response = await fetch(`${server.url}/v1/bars/${symbol}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(rows) });
      expect(response.status).toBe(200);
    };
    const opened = await open();
    await ready(opened);
    // A symbol that did not exist when the page loaded shows up in the overview.
    await post(bars(0, 10));
    const row = opened.page.locator(`#overview tbody tr[data-symbol="${symbol}"]`);
    await row.waitFor({ timeout: 20_000 });
    await row.click();
    expect(await chartSettled(opened, symbol, "1m", "no")).toBe(10);
    await opened.page.locator("#chart[data-live=on]").waitFor();
    // Two more minutes and a correction of the last one already drawn.
    const corrected = { ...bars(9, 1)[0]!, close: 99, high: 99.5 };
    await post([...bars(10, 2), corrected]);
    await opened.page.locator("#chart[data-candles='12']").waitFor({ timeout: 20_000 });
    const stored = await api<{ timestamp: number; close: number | null; volume: number | null }[]>(`/v1/bars/${symbol}`);
    await chartDigestBecomes(opened, digestOf(stored));
    await opened.page.locator(`#overview tbody tr[data-symbol="${symbol}"] td[data-key=count][data-value="12"]`).waitFor({ timeout: 20_000 });
    // At 5m the forming bucket is updated in place.
    await opened.page.locator('#intervals button[data-interval="5m"]').click();
    const before = await chartSettled(opened, symbol, "5m", "no");
    await opened.page.locator("#chart[data-live=on]").waitFor();
    await post(bars(12, 1));
    const fiveMinute = await api<{ timestamp: number; close: number | null; volume: number | null }[]>(`/v1/bars/${symbol}?interval=5m`);
    await chartDigestBecomes(opened, digestOf(fiveMinute));
    expect(Number(await opened.page.locator("#chart").getAttribute("data-candles"))).toBe(fiveMinute.length);
    expect(fiveMinute.length).toBeGreaterThanOrEqual(before);
    expect(opened.problems).toEqual([]);
  });
});

describe("the page's files (no browser)", () => {
  test("GET / needs no token, carries a CSP that allows only this origin, and answers a foreign Host with 403", async () => {
    const store = await openStore({ backend: "sqlite", path: dir.file("files.db") });
    try {
      const app = createApp(store, { tokens: [{ name: "alice", token: TOKEN }] });
      const page = await app.request("/");
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toBe(PAGE_CSP);
      // The directives themselves: this origin only, no inline script or style, no framing.
      expect(PAGE_CSP.split("; ").sort()).toEqual(
        [
          "default-src 'none'",
          "script-src 'self'",
          "style-src 'self'",
          "connect-src 'self'",
          "img-src 'self' data: blob:",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].sort(),
      );
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      const html = await page.text();
      expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
      // Nothing is loaded from elsewhere (the footer's attribution link is a link, not a load).
      expect(html).not.toMatch(/src="(https?:)?\/\//);
      expect(html).not.toMatch(/<link[^>]+href="(https?:)?\/\//);

      const script = await app.request("/assets/app.js");
      expect(script.status).toBe(200);
      expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect((await script.text()).length).toBeGreaterThan(50_000); // lightweight-charts is bundled in, not fetched
      expect((await app.request("/assets/app.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");

      expect((await app.request("/v1/symbols")).status).toBe(401);
      expect((await app.request("/", { headers: { host: "rebind.example" } })).status).toBe(403);
      // Only the page's own files are open: anything else wants the token, then may not exist.
      expect((await app.request("/assets/other.js")).status).toBe(401);
      expect((await app.request("/assets/other.js", { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await store.close();
    }
  });
});
