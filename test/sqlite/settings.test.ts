/**
 * src/sqlite/settings.ts on real files: a database older than the settings table (schema 5)
 * takes its settings from its first opening, once; two processes creating one file at once
 * agree; a read-only opening of a database without settings uses its options and writes nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database as RawDatabase } from "bun:sqlite";
import { openDatabase, ValidationError } from "../../src/mod.ts";
import { SCHEMA_VERSION } from "../../src/sqlite/migrations.ts";
import { MIGRATIONS } from "../../src/sqlite/migrations.ts";
import type { Connection } from "../../src/sqlite/connection.ts";
import { PROJECT_ROOT } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-sqlite-settings-");
afterAll(() => dir.cleanup());
let files = 0;

/** A file as tradelite's schema 5 left it (before the settings table), with one bar in it. */
function schemaFiveFile(): string {
  const path = dir.file(`old-${++files}.db`);
  const raw = new RawDatabase(path, { create: true });
  for (const migration of MIGRATIONS.filter((each) => each.version <= 5)) migration.up({ sqlite: raw } as unknown as Connection);
  raw.run("PRAGMA user_version = 5");
  raw.run("INSERT INTO market_data (symbol, timestamp, open) VALUES ('S', 1704067200000, 1)");
  raw.close();
  return path;
}

function storedRows(path: string): { key: string; value: string }[] {
  const raw = new RawDatabase(path, { readonly: true });
  try {
    return raw.query("SELECT key, value FROM settings ORDER BY key").all() as { key: string; value: string }[];
  } finally {
    raw.close();
  }
}

describe("a database older than the settings table", () => {
  test("takes its settings from its first opening's options, once; later openings read them", async () => {
    const path = schemaFiveFile();
    const first = openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" });
    expect(first.schemaVersion).toBe(SCHEMA_VERSION);
    expect(first.storedSettings).toEqual({ timezone: "Asia/Shanghai", barTimestamp: "end", calendar: null, normalizeSymbols: false });
    expect(first.getBars("S")).toHaveLength(1);
    first.close();
    expect(storedRows(path)).toEqual([
      { key: "bar_timestamp", value: '"end"' },
      { key: "calendar", value: "null" },
      { key: "normalize_symbols", value: "false" },
      { key: "timezone", value: '"Asia/Shanghai"' },
    ]);
    const plain = openDatabase({ path });
    expect(plain.storedSettings).toEqual({ timezone: "Asia/Shanghai", barTimestamp: "end", calendar: null, normalizeSymbols: false });
    plain.close();
    expect(() => openDatabase({ path, timezone: "UTC" })).toThrow("the database stores Asia/Shanghai, the option says UTC");
  });

  test("without options it takes the defaults (UTC, start, no calendar, symbols as given)", () => {
    const path = schemaFiveFile();
    openDatabase({ path }).close();
    expect(storedRows(path).map((row) => row.value)).toEqual(['"start"', "null", "false", '"UTC"']);
  });
});

test("a read-only opening of a database whose settings rows are missing uses its options and writes nothing", () => {
  const path = dir.file(`rows-missing-${++files}.db`);
  openDatabase({ path }).close();
  const raw = new RawDatabase(path);
  raw.run("DELETE FROM settings");
  raw.close();
  const readonly = openDatabase({ path, readonly: true, timezone: "Asia/Shanghai" });
  expect(readonly.timezone).toBe("Asia/Shanghai");
  readonly.close();
  expect(storedRows(path)).toEqual([]);
});

test("a stored setting that is not a valid value is a StorageError, not a silent default", () => {
  const path = dir.file(`corrupt-${++files}.db`);
  openDatabase({ path }).close();
  const raw = new RawDatabase(path);
  raw.run(`UPDATE settings SET value = '"Mars/Olympus"' WHERE key = 'timezone'`);
  raw.close();
  expect(() => openDatabase({ path })).toThrow("the stored setting timezone is not valid");
});

describe("two processes creating one file at once", () => {
  /** Starts `bun -e` opening `path` with `timezone` once `at` (epoch ms) has come; its exit code and stderr. */
  function opener(path: string, timezone: string, at: number) {
    const script = `
      import { openDatabase } from "./src/mod.ts";
      while (Date.now() < ${at}) {}
      const db = openDatabase({ path: ${JSON.stringify(path)}, timezone: ${JSON.stringify(timezone)} });
      console.log(db.timezone);
      db.close();`;
    const child = Bun.spawn(["bun", "-e", script], { cwd: PROJECT_ROOT, stdout: "pipe", stderr: "pipe" });
    return Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  }

  test("with different zones: exactly one wins, the other is refused naming both, and the file holds the winner's", async () => {
    for (let round = 0; round < 3; round++) {
      const path = dir.file(`race-${++files}.db`);
      const at = Date.now() + 1_500;
      const results = await Promise.all([opener(path, "Asia/Shanghai", at), opener(path, "America/New_York", at)]);
      const winners = results.filter(([code]) => code === 0);
      const losers = results.filter(([code]) => code !== 0);
      expect(winners).toHaveLength(1);
      const winner = winners[0]![1].trim();
      const loser = winner === "Asia/Shanghai" ? "America/New_York" : "Asia/Shanghai";
      expect(losers[0]![2]).toContain(`the database stores ${winner}, the option says ${loser}`);
      const db = openDatabase({ path, readonly: true });
      expect(db.timezone).toBe(winner);
      db.close();
    }
  }, 60_000);

  test("with the same zone: both open it", async () => {
    const path = dir.file(`race-${++files}.db`);
    const at = Date.now() + 1_500;
    const results = await Promise.all([opener(path, "Asia/Shanghai", at), opener(path, "Asia/Shanghai", at)]);
    expect(results.map(([code, out]) => [code, out.trim()])).toEqual([
      [0, "Asia/Shanghai"],
      [0, "Asia/Shanghai"],
    ]);
  }, 60_000);
});

test("a ValidationError, not a crash, for a bad calendar option", () => {
  expect(() => openDatabase({ path: ":memory:", calendar: "not a name" })).toThrow(ValidationError);
});

describe("a settings change inside a transaction that rolls back", () => {
  test("is undone in memory too: the store reads the stored zone and stamping again, whole transaction or savepoint", () => {
    const path = dir.file(`rollback-${++files}.db`);
    const db = openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "start" });
    try {
      db.insertBars("S", [{ timestamp: Date.UTC(2024, 0, 15, 1, 30), open: 1, high: 1, low: 1, close: 1 }]);
      expect(() =>
        db.transaction(() => {
          db.updateSettings({ timezone: "America/New_York", barTimestamp: "end" }, { restamp: "1m" });
          expect([db.timezone, db.barTimestamp]).toEqual(["America/New_York", "end"]);
          throw new Error("changed my mind");
        }),
      ).toThrow("changed my mind");
      expect([db.timezone, db.barTimestamp]).toEqual(["Asia/Shanghai", "start"]);
      expect(db.getBars("S")[0]!.timestamp).toBe(Date.UTC(2024, 0, 15, 1, 30));
      // A naive time is read in the zone the table holds, not the one rolled back.
      db.insertBars("S", [{ timestamp: "2024-01-15 09:31", open: 1, high: 1, low: 1, close: 1 }]);
      expect(db.getBars("S")[1]!.timestamp).toBe(Date.UTC(2024, 0, 15, 1, 31));

      // A savepoint rolled back inside a transaction that commits: the outer change stays.
      db.transaction(() => {
        db.updateSettings({ calendar: "XSHG" });
        expect(() =>
          db.transaction(() => {
            db.updateSettings({ timezone: "UTC" });
            throw new Error("inner");
          }),
        ).toThrow("inner");
        expect([db.timezone, db.calendar]).toEqual(["Asia/Shanghai", "XSHG"]);
      });
      expect([db.timezone, db.calendar]).toEqual(["Asia/Shanghai", "XSHG"]);
      expect(db.audit.query({ action: "settings.set" }).map((entry) => entry.entity)).toEqual(["calendar"]);
    } finally {
      db.close();
    }
  });
});
