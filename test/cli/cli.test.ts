/**
 * The `tradelite` command as users run it: `bun scripts/tradelite.ts <command>` in its own
 * process, over real files, with the exit codes (0 ok, 1 failure, 2 usage) and the output
 * checked. The database is read back with the library (and, for integrity, from Python).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database as RawDatabase } from "bun:sqlite";
import { openDatabase, type Bar } from "../../src/mod.ts";
import { symbolFromFileName } from "../../scripts/cli/import.ts";
import { UsageError } from "../../scripts/cli/shared.ts";
import { readTdxBars, realDataPath, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { killAllServers, PROJECT_ROOT, procMemory, serverEnv } from "../support/api-server.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-cli-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

let databases = 0;
function freshEnv(): { TRADELITE_DB: string; TRADELITE_CACHE_DIR: string } {
  const n = ++databases;
  return { TRADELITE_DB: dir.file(`cli-${n}.db`), TRADELITE_CACHE_DIR: dir.file(`cli-${n}-cache`) };
}

function stored(path: string, symbol: string): Bar[] {
  const db = openDatabase({ path, readonly: true });
  try {
    return db.getBars(symbol);
  } finally {
    db.close();
  }
}

const shanghai = (naive: string) => Date.parse(`${naive.replace(" ", "T")}+08:00`);

describe("help and usage", () => {
  test("no command or an unknown one is a usage error (2) listing the commands; --help is 0", async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain("usage: tradelite <command>");
    const unknown = await cli(["imprt"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "imprt"');
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["init", "settings", "import", "export", "overview", "compact", "maintain", "migrate", "demo", "serve", "bench"]) expect(help.stdout).toContain(`  ${command} `);
  });

  test("every command answers --help with its usage and exit 0", async () => {
    for (const command of ["init", "settings", "import", "export", "overview", "compact", "maintain", "migrate", "demo", "serve", "bench"]) {
      const run = await cli([command, "--help"]);
      expect({ command, code: run.code }).toEqual({ command, code: 0 });
      expect(run.stdout).toContain(`usage: tradelite ${command}`);
    }
  });

  test("usage mistakes exit 2 with the reason and the command's usage, and touch nothing", async () => {
    const env = freshEnv();
    const mistakes: [string[], string][] = [
      [["import"], "name a file or folder"],
      [["import", "nowhere.csv"], "no such file or folder"],
      [["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Mars/Olympus"], "unknown time zone"],
      [["import", realDataPath(TDX_INDEX_1MIN), "--symbol", "has space"], "is not a symbol"],
      [["import", realDataPath(TDX_INDEX_1MIN), "--db"], "--db needs a value"],
      [["compact", "--all=yes"], "--all takes no value"],
      [["import", realDataPath(TDX_INDEX_1MIN), "--batch", "0"], "--batch"],
      [["export"], "name one symbol"],
      [["export", "X", "--format", "xml"], "--format is csv, ndjson, parquet, arrow"],
      [["export", "X", "--interval", "2m"], "--interval is one of"],
      [["compact"], "name one symbol, or pass --all"],
      [["overview", "extra"], "takes no arguments"],
      [["demo", "--days", "0"], "--days"],
    ];
    for (const [args, reason] of mistakes) {
      const run = await cli(args, env);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toContain(reason);
      expect(run.stderr).toContain(`usage: tradelite ${args[0]}`);
    }
    expect(existsSync(env.TRADELITE_DB)).toBe(false);
  });
});

describe("import", () => {
  test("the real TDX exports, symbol from the file name, naive Shanghai times: every row exactly", async () => {
    const env = freshEnv();
    const folder = dir.file("tdx");
    mkdirSync(folder);
    for (const file of [TDX_INDEX_1MIN, TDX_ETF_5MIN_DESC]) writeFileSync(join(folder, file), await Bun.file(realDataPath(file)).bytes());
    const run = await cli(["import", folder, "--timezone", "Asia/Shanghai", "--batch", "7000"], env);
    // Nothing but progress on stderr: a slow run (a loaded machine) prints a plain progress line
    // every 2 s when stderr is not a terminal; a warning or an error would be anything else.
    expect(run.stderr.split("\n").filter((line) => line !== "" && !/^\S+ -> \S+: [\d,]+ bytes/.test(line))).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("import done");
    expect(run.stdout).toMatch(/bars written\s+47,568/);
    for (const [file, symbol] of [[TDX_INDEX_1MIN, "000001.SH"], [TDX_ETF_5MIN_DESC, "512010.SH"]] as const) {
      const expected = await readTdxBars(file);
      const bars = stored(env.TRADELITE_DB, symbol);
      expect(bars.length).toBe(expected.length);
      const byTime = new Map(bars.map((bar) => [bar.timestamp, bar]));
      for (const want of expected) {
        const { timestamp, ...values } = want;
        expect(byTime.get(shanghai(timestamp))).toEqual({ timestamp: shanghai(timestamp), ...values });
      }
    }
  });

  test("a bad row stops the import with its line and reason (exit 1), the rows before it stored; --skip-bad lists every bad row and stores the rest", async () => {
    const env = freshEnv();
    const file = dir.file("600519.SH.csv");
    writeFileSync(
      file,
      "\uFEFF日期,时间,开盘,最高,最低,收盘,成交量,成交额\r\n" +
        "2024-01-15,09:31,10,10.2,9.9,10.1,1000,10100\r\n" +
        "2024-01-15,09:32,10.1,10.3,10,10.2,1200,12240\r\n" +
        "2024-01-15,09:33,10.2,10.1,10.3,10.2,900,9180\r\n" +
        "2024-01-15,09:34,x,10.3,10,10.2,1200,12240\r\n" +
        "2024-01-15,09:35,10.1,10.3,10,10.2,1200,12240\r\n",
    );
    const stopped = await cli(["import", file, "--timezone", "Asia/Shanghai"], env);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain(`${file}:4: low: low 10.3 is above high 10.1`);
    expect(stopped.stderr).toContain("stopped at line 4");
    expect(stopped.stderr).not.toContain(":5:");
    expect(stopped.stdout).toContain("import stopped");
    expect(stored(env.TRADELITE_DB, "600519.SH").map((bar) => bar.timestamp)).toEqual([shanghai("2024-01-15 09:31"), shanghai("2024-01-15 09:32")]);

    const skipped = await cli(["import", file, "--timezone", "Asia/Shanghai", "--skip-bad"], env);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toContain(`${file}:4: low`);
    expect(skipped.stderr).toContain(`${file}:5: open: not a number: "x"`);
    expect(skipped.stdout).toMatch(/bad rows\s+2 \(skipped\)/);
    expect(stored(env.TRADELITE_DB, "600519.SH").map((bar) => bar.timestamp)).toEqual(
      ["09:31", "09:32", "09:35"].map((time) => shanghai(`2024-01-15 ${time}`)),
    );
  });

  test("--cache writes through the session cache: its file and metadata hold the bars", async () => {
    const env = freshEnv();
    const run = await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai", "--cache", "--symbol", "SHCOMP"], env);
    expect(run.code).toBe(0);
    expect(stored(env.TRADELITE_DB, "SHCOMP").length).toBe(24_000);
    const overview = await cli(["overview", "--json"], env);
    const parsed = JSON.parse(overview.stdout) as { cache: { symbol: string; row_count: number }[] };
    // One batch is one cache write: the file holds all of it until a compaction applies the
    // retention window (45 days, at most 12,000 rows), which `compact` does now.
    expect(parsed.cache.map((entry) => [entry.symbol, entry.row_count])).toEqual([["SHCOMP", 24_000]]);
    expect(readdirSync(env.TRADELITE_CACHE_DIR).length).toBeGreaterThan(0);
    const compact = await cli(["compact", "SHCOMP"], env);
    expect(compact.code).toBe(0);
    const after = JSON.parse((await cli(["overview", "--json"], env)).stdout) as typeof parsed;
    expect(after.cache[0]!.row_count).toBeLessThanOrEqual(12_000);
    expect(after.cache[0]!.row_count).toBeGreaterThan(0);
  });

  test("memory stays bounded: a file 7x larger costs a small fraction of its extra size, not all of it", async () => {
    const env = freshEnv();
    /** Writes a generated file of `rows` rows, imports it in a child, and returns its size and the child's peak RSS. */
    const importPeak = async (rows: number): Promise<{ bytes: number; peak: number }> => {
      const file = dir.file(`big-${rows}.csv`);
      const writer = Bun.file(file).writer();
      writer.write("datetime,open,high,low,close,volume,amount\n");
      const t0 = Date.UTC(2020, 0, 1);
      for (let i = 0; i < rows; i++) {
        const price = 100 + (i % 100) / 100;
        writer.write(`${new Date(t0 + i * 60_000).toISOString()},${price},${price + 0.5},${price - 0.5},${price},${i % 1000},${price * (i % 1000)}\n`);
        if (i % 100_000 === 0) await writer.flush();
      }
      await writer.end();
      const child = Bun.spawn(["bun", "scripts/tradelite.ts", "import", file, "--symbol", `BIG${rows}`], { cwd: PROJECT_ROOT, env: serverEnv(env), stdout: "pipe", stderr: "pipe" });
      let peak = 0;
      const poll = setInterval(() => {
        try {
          peak = Math.max(peak, procMemory(child.pid).peak);
        } catch {
          // exited
        }
      }, 20);
      const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      clearInterval(poll);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`bars written\\s+${rows.toLocaleString("en-US")}`));
      return { bytes: statSync(file).size, peak };
    };
    const small = await importPeak(200_000);
    const large = await importPeak(1_500_000);
    const extraBytes = large.bytes - small.bytes;
    const extraPeak = large.peak - small.peak;
    console.log(
      `import: ${(small.bytes / 2 ** 20).toFixed(0)} MB file, peak RSS ${(small.peak / 2 ** 20).toFixed(0)} MB; ` +
        `${(large.bytes / 2 ** 20).toFixed(0)} MB file, peak RSS ${(large.peak / 2 ** 20).toFixed(0)} MB`,
    );
    expect(small.peak).toBeGreaterThan(0);
    // Reading the file whole would add at least its extra size (the bytes, then the text).
    // Measured here: about 0.2 of it (batches of 10,000 rows; garbage the collector has not
    // reclaimed yet grows a little with the run's length).
    expect(extraPeak).toBeLessThan(0.5 * extraBytes);
  });
});

describe("export, overview, compact, maintain", () => {
  test("export writes the stored bars as CSV or NDJSON; --out appears whole or not at all", async () => {
    const env = freshEnv();
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai"], env)).code).toBe(0);
    const bars = stored(env.TRADELITE_DB, "000001.SH");
    const ndjson = await cli(["export", "000001.SH", "--format", "ndjson"], env);
    expect(ndjson.code).toBe(0);
    expect(ndjson.stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(bars);

    const out = dir.file("daily.csv");
    // The import created the database with the file's zone; export reads it from there.
    const csv = await cli(["export", "000001.SH", "--interval", "1d", "--start", "2023-05-01", "--out", out], env);
    expect(csv.code).toBe(0);
    // 11 trading days from 1 May 2023 to the end of the file (1-3 May was the Labour Day holiday).
    expect(csv.stdout).toMatch(/bars\s+11\n/);
    const lines = (await Bun.file(out).text()).trimEnd().split("\n");
    expect(lines[0]).toBe("timestamp,open,high,low,close,volume,amount");
    expect(lines.length).toBe(12);
    expect(lines[1]!.startsWith("2023-05-04T00:00:00+08:00,")).toBe(true); // 4 May, Shanghai midnight, offset written out
    const utc = await cli(["export", "000001.SH", "--interval", "1d", "--start", "2023-05-01", "--utc"], env);
    expect(utc.stdout.split("\n")[1]!.startsWith("2023-05-03T16:00:00.000Z,")).toBe(true);

    const refused = dir.file("refused.csv");
    const bad = await cli(["export", "000001.SH", "--start", "someday", "--out", refused], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("someday");
    expect(existsSync(refused)).toBe(false);
    expect(readdirSync(dir.path).filter((name) => name.includes(".partial-"))).toEqual([]);
  });

  test("overview, compact --all and maintain --integrity --backup report what they did", async () => {
    const env = freshEnv();
    const file = dir.file("000858.SZ.csv");
    const rows = ["datetime,open,high,low,close,volume,amount"];
    for (let i = 0; i < 60; i++) rows.push(`2024-03-01 10:${String(i).padStart(2, "0")},150,151,149,150.5,100,15050`);
    writeFileSync(file, `${rows.join("\n")}\n`);
    // Five imports of the same 60 bars: the cache file holds 300 rows until compaction.
    for (let run = 0; run < 5; run++) expect((await cli(["import", file, "--cache", "--timezone", "Asia/Shanghai"], env)).code).toBe(0);
    const overview = await cli(["overview"], env);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/000858\.SZ\s+60\s/);
    expect(overview.stdout).toContain("1 symbols, 60 bars, 1 cache files");
    // Times in the zone the database stores (the import created it with the file's), offset written out.
    expect(overview.stdout).toContain("(timezone Asia/Shanghai, bars stamped at the start, calendar none)");
    expect(overview.stdout).toMatch(/000858\.SZ\s+60\s+2024-03-01T10:00:00\+08:00\s+2024-03-01T10:59:00\+08:00\s/);
    expect((await cli(["overview", "--utc"], env)).stdout).toMatch(/000858\.SZ\s+60\s+2024-03-01T02:00:00\.000Z\s+2024-03-01T02:59:00\.000Z\s/);
    const compact = await cli(["compact", "--all"], env);
    expect(compact.code).toBe(0);
    expect(compact.stdout).toMatch(/000858\.SZ: 300 -> 60 rows/);
    const backup = dir.file("backup.db");
    const maintain = await cli(["maintain", "--integrity", "--backup", backup, "--vacuum"], env);
    expect(maintain.code).toBe(0);
    expect(maintain.stdout).toMatch(/integrity\s+ok/);
    expect(stored(backup, "000858.SZ").length).toBe(60);
  });
});

describe("what review found", () => {
  test("the symbol a file name gives: an exchange code with a boundary after it, else the name; hidden and non-.csv names give none", () => {
    const cases: [string, string][] = [
      ["600519.SH.csv", "600519.SH"],
      ["sh600519.csv", "sh600519"],
      ["000001.SH-1min-tdx.csv", "000001.SH"],
      ["600519.shanghai.csv", "600519"],
      ["20240115.csv", "20240115"],
      ["1234567.csv", "1234567"],
      ["BTC-USDT.csv", "BTC-USDT"],
    ];
    for (const [file, symbol] of cases) expect([file, symbolFromFileName(`/data/${file}`)]).toEqual([file, symbol]);
    for (const file of ["._600519.SH.csv", "..csv", "data.txt", "600519.SH"]) expect(() => symbolFromFileName(file)).toThrow(UsageError);
  });

  test("a folder: files only (a folder named x.csv and hidden files are passed over); two files of one symbol are refused before anything is written", async () => {
    const env = freshEnv();
    const folder = dir.file("folder");
    mkdirSync(join(folder, "nested.csv"), { recursive: true });
    const rows = "datetime,open,high,low,close\n2024-01-15 09:31,10,10.2,9.9,10.1\n";
    writeFileSync(join(folder, "600519.SH.csv"), rows);
    writeFileSync(join(folder, "._600519.SH.csv"), "\u0000\u0005garbage");
    writeFileSync(join(folder, "notes.txt"), "not bars");
    const run = await cli(["import", folder], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/files\s+1 of 1/);
    writeFileSync(join(folder, "600519.SH-daily.csv"), rows);
    const twice = await cli(["import", folder], freshEnv());
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("both give the symbol 600519.SH");
  });

  test("commands that read or tend a database refuse a missing one instead of creating it; compact refuses a symbol the cache does not hold", async () => {
    const missing = dir.file("typo.db");
    for (const args of [["export", "X"], ["overview"], ["maintain"], ["compact", "X"]]) {
      const run = await cli([...args, "--db", missing]);
      expect({ args, code: run.code }).toEqual({ args, code: 1 });
      expect(run.stderr).toContain(`no database at ${missing}`);
    }
    expect(existsSync(missing)).toBe(false);
    const env = freshEnv();
    expect((await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai"], env)).code).toBe(0);
    const compact = await cli(["compact", "NOPE"], env);
    expect(compact.code).toBe(1);
    expect(compact.stderr).toContain("the session cache holds no NOPE");
  });

  test("export: a closed pipe ends it quietly; YYYYMMDD bounds are days in the stored zone (a date as --end is the whole day); SIGINT leaves no partial --out", async () => {
    const env = freshEnv();
    const db = openDatabase({ path: env.TRADELITE_DB, timezone: "Asia/Shanghai" });
    const t0 = Date.UTC(2020, 0, 1);
    try {
      const rows = 600_000;
      const timestamp = Float64Array.from({ length: rows }, (_, i) => t0 + i * 60_000);
      const ones = new Float64Array(rows).fill(1);
      db.insertBars("BIG", { timestamp, open: ones, high: ones, low: ones, close: ones, volume: ones, amount: ones });
    } finally {
      db.close();
    }
    const piped = Bun.spawnSync(["sh", "-c", "bun scripts/tradelite.ts export BIG | head -c 100 > /dev/null; echo $?"], { cwd: PROJECT_ROOT, env: serverEnv(env) });
    expect(piped.stderr.toString()).not.toContain("EPIPE");
    expect(piped.stderr.toString()).not.toContain("    at ");

    // The database stores Asia/Shanghai: 2 January there is 2020-01-01T16:00Z to 2020-01-02T16:00Z.
    const day = await cli(["export", "BIG", "--start", "20200102", "--end", "20200102", "--format", "ndjson"], env);
    expect(day.code).toBe(0);
    const bars = day.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { timestamp: number });
    expect(bars.length).toBe(1_440);
    expect(bars[0]!.timestamp).toBe(Date.UTC(2020, 0, 1, 16));
    expect(bars.at(-1)!.timestamp).toBe(Date.UTC(2020, 0, 2, 15, 59));

    const out = dir.file("interrupted.csv");
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "export", "BIG", "--out", out], { cwd: PROJECT_ROOT, env: serverEnv(env), stdout: "ignore", stderr: "pipe" });
    for (let tries = 0; tries < 500 && !readdirSync(dir.path).some((name) => name.startsWith(".interrupted.csv.partial-")); tries++) await Bun.sleep(5);
    child.kill("SIGINT");
    expect(await child.exited).toBe(130);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir.path).filter((name) => name.includes(".partial-"))).toEqual([]);
  });

  test("an import that finds the database locked by another process says which lines were not written and what is stored", async () => {
    const env = freshEnv();
    expect((await cli(["overview"], env)).code).toBe(1); // no database yet
    openDatabase({ path: env.TRADELITE_DB }).close();
    const holder = new RawDatabase(env.TRADELITE_DB);
    try {
      holder.exec("BEGIN IMMEDIATE");
      const run = await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai", "--batch", "10000"], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("lines 2-10001 were not written");
      expect(run.stderr).toContain(`another process holds the write lock on ${env.TRADELITE_DB}`);
      expect(run.stdout).toContain("import stopped");
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
  });
});

