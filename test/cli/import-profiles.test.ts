/**
 * `tradelite import` of the vendors' text files, run as users run it: the CLI in its own
 * process, a SQLite file on disk. One command, no flags beyond the zone (and --interval 1d for
 * daily files): the profile, the encoding and the units come from the file.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "../../src/mod.ts";
import { cli } from "../support/cli.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-profiles-");
afterAll(() => dir.cleanup());
const fixture = (name: string) => join(import.meta.dir, "..", "fixtures", name);
const shanghai = (text: string) => Date.parse(`${text}+08:00`);

let databases = 0;
function freshEnv(): { TRADELITE_DB: string } {
  return { TRADELITE_DB: dir.file(`profiles-${++databases}.db`) };
}

function overview(path: string) {
  const db = openDatabase({ path, readonly: true });
  try {
    return db.overview();
  } finally {
    db.close();
  }
}

describe("tradelite import reads the vendors' files", () => {
  test("a whole-market Tushare daily file: one command, each ts_code its own symbol, sizes in shares and yuan", async () => {
    const file = dir.file("daily_20240103.csv");
    writeFileSync(
      file,
      "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n" +
        "000001.SZ,20240103,9.3,9.34,9.22,9.26,9.39,-0.13,-1.3845,1158366.45,1075742.252\n" +
        "600000.SH,20240103,6.6,6.62,6.56,6.59,6.61,-0.02,-0.3026,272683.03,179471.548\n",
    );
    const env = freshEnv();
    const run = await cli(["import", file, "--timezone", "Asia/Shanghai", "--interval", "1d"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("2 daily bars written to 2 symbol(s) (000001.SZ 1, 600000.SH 1)");
    const db = openDatabase({ path: env.TRADELITE_DB, readonly: true });
    try {
      expect(db.overview().map((row) => row.symbol)).toEqual(["000001.SZ", "600000.SH"]);
      expect(db.getBars("000001.SZ", { interval: "1d", source: "stored" })).toEqual([
        { timestamp: shanghai("2024-01-03T00:00:00"), open: 9.3, high: 9.34, low: 9.22, close: 9.26, volume: 115_836_645, amount: 1_075_742_252 },
      ]);
    } finally {
      db.close();
    }
  });

  test("a TDX export in GBK (title, tab-padded header, footer): the symbol from SH#601003, the encoding detected", async () => {
    const file = dir.file("SH#601003.txt");
    copyFileSync(fixture("vendor/SH#601003-tdx-export-raw-gbk.txt"), file);
    const env = freshEnv();
    const run = await cli(["import", file, "--timezone", "Asia/Shanghai", "--interval", "1d"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("2 daily bars written to 601003.SH");
    expect(run.stdout).toContain("read as tdx; gbk (detected); assumed 成交量 read as shares");
    const db = openDatabase({ path: env.TRADELITE_DB, readonly: true });
    try {
      expect(db.getBars("601003.SH", { interval: "1d", source: "stored" }).map((bar) => bar.close)).toEqual([7.44, 7.48]);
    } finally {
      db.close();
    }
  });

  test("an adjusted export is refused, nothing written, until --adjusted says to store it", async () => {
    const env = freshEnv();
    const qfq = fixture("vendor/SH#601003-tdx-export-qfq-gbk.txt");
    const refused = await cli(["import", qfq, "--timezone", "Asia/Shanghai", "--interval", "1d"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("前复权 (adjusted) prices");
    expect(refused.stderr).toContain("--adjusted");
    const told = await cli(["import", qfq, "--timezone", "Asia/Shanghai", "--interval", "1d", "--adjusted", "--skip-bad"], env);
    expect(told.code).toBe(0);
    expect(told.stdout).toContain("adjusted prices stored as told: 前复权");
    expect(overview(env.TRADELITE_DB).map((row) => row.symbol)).toEqual(["601003.SH"]);
  });

  test("units and profiles can be said: --volume-unit lots multiplies by 100; a wrong --profile is refused naming what it needs", async () => {
    const file = dir.file("X.csv");
    writeFileSync(file, "datetime,open,high,low,close,vol\n2024-01-02 09:31,10,10,10,10,12.5\n");
    const env = freshEnv();
    const assumed = await cli(["import", file, "--timezone", "Asia/Shanghai"], env);
    expect(assumed.stdout).toContain("assumed vol read as shares (the header does not say; --volume-unit lots if it is in 手)");
    expect((await cli(["import", file, "--timezone", "Asia/Shanghai", "--volume-unit", "lots"], env)).code).toBe(0);
    const db = openDatabase({ path: env.TRADELITE_DB, readonly: true });
    try {
      expect(db.getBars("X")[0]!.volume).toBe(1_250);
    } finally {
      db.close();
    }
    const wrong = await cli(["import", file, "--profile", "baostock"], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("not a baostock file's: it needs code with");
  });

  test("usage mistakes exit 2 naming the choices: --profile, --encoding, --volume-unit, --amount-unit", async () => {
    const file = dir.file("Y.csv");
    writeFileSync(file, "datetime,open,high,low,close\n2024-01-02 09:31,10,10,10,10\n");
    for (const [flag, value, choices] of [
      ["--profile", "wind", "tushare, akshare"],
      ["--encoding", "latin1", "utf-8, gbk"],
      ["--volume-unit", "hands", "shares, lots"],
      ["--amount-unit", "wan", "yuan, thousands"],
    ] as const) {
      const run = await cli(["import", file, flag, value], freshEnv());
      expect({ flag, code: run.code }).toEqual({ flag, code: 2 });
      expect(run.stderr).toContain(choices);
    }
  });
});
