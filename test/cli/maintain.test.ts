/**
 * `tradelite maintain` (scripts/cli/maintain.ts) on what it does beyond checkpoint and optimize:
 * the audit rollups that are due closed into entries, and `--derive` building the derived days a
 * database from before them lacks (store.buildDerivedDays on each backend). The real process
 * over a SQLite file (in-thread and worker-hosted) and a real PostgreSQL; what it reports is
 * checked against the tables.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { barsDigest } from "../../src/mod.ts";
import { sessionBars } from "../support/bars.ts";
import { cli } from "../support/cli.ts";
import { postgresTarget, sqliteTarget, type CliTarget as Target } from "../support/cli-targets.ts";
import { tempDir } from "../support/files.ts";
import { postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const dir = tempDir("tradelite-cli-maintain-");
const databases: TestDatabase[] = [];
afterAll(async () => {
  dir.cleanup();
  for (const database of databases) await database.drop().catch(() => {});
});

const DAY_MS = 86_400_000;
/** Five trading days of minutes for two symbols, written as a recorder writes them. */
const bars = sessionBars(5, 21, "2024-01-29");

async function seed(target: Target): Promise<void> {
  const store = await target.open();
  try {
    for (const symbol of ["600519.SH", "000001.SZ"]) {
      for (let i = 0; i < bars.length; i += 240) await store.insertBars(symbol, bars.slice(i, i + 240), { audit: "entry" });
    }
  } finally {
    await store.close();
  }
}

async function maintainJson(target: Target, extra: string[] = []): Promise<Record<string, unknown>> {
  const run = await cli(["maintain", ...target.args, ...extra, "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

function maintainCases(make: (name: string) => Promise<Target>): void {
  test("--derive builds the days of every symbol not built (a database from before derived days), and 1d reads equal on-the-fly resampling", async () => {
    const target = await make("derive");
    try {
      await seed(target);
      // As the migration leaves a database: the tables there, nothing built.
      await target.raw("DELETE FROM market_data_days");
      await target.raw("DELETE FROM market_data_days_built");
      expect(await maintainJson(target)).not.toHaveProperty("derived");
      expect(await target.raw("SELECT count(*) AS n FROM market_data_days")).toBe(0);

      expect(await maintainJson(target, ["--derive"])).toMatchObject({ derived: 2 });
      expect(await target.raw("SELECT count(*) AS n FROM market_data_days_built")).toBe(2);
      expect(await target.raw("SELECT count(*) AS n FROM market_data_days")).toBe(10);
      const store = await target.open();
      try {
        for (const symbol of ["600519.SH", "000001.SZ"]) {
          expect(await store.getBars(symbol, { interval: "1d" })).toEqual(await store.getBars(symbol, { interval: "1d", derived: false }));
        }
      } finally {
        await store.close();
      }
      // Built: a second run has nothing to build.
      expect(await maintainJson(target, ["--derive"])).toMatchObject({ derived: 0 });
      const human = await cli(["maintain", ...target.args, "--derive"]);
      expect(human.stdout).toMatch(/derived days built\s+0 symbol\(s\)/);
    } finally {
      await target.close();
    }
  });

  test("a rollup open for longer than the grain (a recorder that stopped writing) is closed into an entry, and counted", async () => {
    const target = await make("rollups");
    try {
      const store = await target.open();
      for (const bar of bars.slice(0, 3)) await store.insertBars("600519.SH", [bar]);
      await store.insertBars("000001.SZ", bars.slice(0, 1));
      await store.close();
      // The first opened two days ago; the second just now, not due under the one-day grain.
      await target.raw(`UPDATE audit_pending SET opened_at = opened_at - ${2 * DAY_MS} WHERE symbol = '600519.SH'`);
      expect(await maintainJson(target)).toMatchObject({ rollups: 1 });
      expect(await target.raw("SELECT count(*) AS n FROM audit_pending")).toBe(1);
      const after = await target.open();
      try {
        const [entry] = await after.audit.query({ action: "bars.rollup" });
        expect(entry!.entity).toBe("600519.SH");
        expect(entry!.details).toMatchObject({ rows: 3, batches: 3, ...barsDigest(await after.getBars("600519.SH")) });
        expect(await after.audit.verifyRollups()).toEqual({ ok: true, checked: 1, pending: 1, mismatches: [] });
      } finally {
        await after.close();
      }
      const human = await cli(["maintain", ...target.args]);
      expect(human.stdout).toMatch(/audit rollups closed\s+0/);
    } finally {
      await target.close();
    }
  });
}

describe("tradelite maintain on a SQLite file", () => maintainCases(async (name) => sqliteTarget(dir.file(`${name}.db`))));
describe("tradelite maintain on a SQLite file through the worker store", () => maintainCases(async (name) => sqliteTarget(dir.file(`worker-${name}.db`), "sqlite-worker")));
describe.skipIf(!available)("tradelite maintain on PostgreSQL", () => maintainCases((name) => postgresTarget(`maintain_${name}`, databases)));
