/**
 * `tradelite audit verify` and `tradelite audit rollup` (scripts/cli/audit.ts): the real process
 * over a SQLite file and a real PostgreSQL; what they print is checked against the library's
 * view of the same database, and a bar changed by a raw client behind tradelite's back fails
 * verify.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { minuteBars } from "../support/api.ts";
import { cli } from "../support/cli.ts";
import { postgresTarget, sqliteTarget, type CliTarget as Target } from "../support/cli-targets.ts";
import { tempDir } from "../support/files.ts";
import { postgresAvailable, type TestDatabase } from "../support/postgres.ts";

const available = await postgresAvailable();
const dir = tempDir("tradelite-cli-audit-");
const databases: TestDatabase[] = [];
afterAll(async () => {
  dir.cleanup();
  for (const database of databases) await database.drop().catch(() => {});
});

const T0 = Date.UTC(2024, 0, 2, 1, 31);

const TAMPER = `UPDATE market_data SET volume = volume + 1 WHERE symbol = 'AAA' AND timestamp = ${T0 + 60_000}`;

async function json(args: string[], code = 0): Promise<Record<string, unknown>> {
  const run = await cli([...args, "--json"]);
  expect(run.code, run.stderr).toBe(code);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

function auditCases(make: (name: string) => Promise<Target>): void {
  test("rollup closes the open rollups (--due only those past the grain, --symbol one); verify checks the chain and re-digests them", async () => {
    const target = await make("flow");
    try {
      const store = await target.open();
      for (const bar of minuteBars(T0, 3)) await store.insertBars("AAA", [bar]);
      await store.insertBars("BBB", minuteBars(T0, 2));
      await store.close();

      expect(await json(["audit", "verify", ...target.args])).toEqual({
        ok: true,
        chain: { ok: true, checked: 0 },
        rollups: { ok: true, checked: 0, pending: 2, mismatches: [] },
      });
      expect(await json(["audit", "rollup", "--due", ...target.args])).toEqual({ closed: 0 });
      expect(await json(["audit", "rollup", "--symbol", "AAA", ...target.args])).toEqual({ closed: 1 });
      const rest = await cli(["audit", "rollup", ...target.args]);
      expect([rest.code, rest.stdout.trim()]).toEqual([0, "1 rollup(s) closed into audit entries"]);

      const after = await target.open();
      let entries;
      try {
        entries = await after.audit.query({ action: "bars.rollup" });
        expect(entries.map((entry) => [entry.entity, (entry.details as { rows: number }).rows])).toEqual([["AAA", 3], ["BBB", 2]]);
        expect(await json(["audit", "verify", ...target.args])).toEqual({ ok: true, chain: await after.audit.verify(), rollups: await after.audit.verifyRollups() });
      } finally {
        await after.close();
      }
      const human = await cli(["audit", "verify", ...target.args]);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/audit log verified/);
      expect(human.stdout).toMatch(/rollups\s+2 re-digested, 0 changed since/);

      // A bar changed by another program, with nothing on the record: exit 1, the rollup named.
      await target.raw(TAMPER);
      const failed = await json(["audit", "verify", ...target.args], 1);
      expect(failed).toMatchObject({ ok: false, chain: { ok: true }, rollups: { ok: false, checked: 2, mismatches: [{ id: entries[0]!.id, symbol: "AAA", changedBy: null }] } });
      const told = await cli(["audit", "verify", ...target.args]);
      expect(told.code).toBe(1);
      expect(told.stdout).toMatch(new RegExp(`entry ${entries[0]!.id}\\s+AAA .*3 bars recorded, 3 stored; nothing on the record explains it`));
    } finally {
      await target.close();
    }
  });
}

describe("tradelite audit on a SQLite file", () => {
  auditCases(async (name) => sqliteTarget(dir.file(`${name}.db`)));

  test("usage mistakes are exit 2 and change nothing", async () => {
    const target = sqliteTarget(dir.file("usage.db"));
    const store = await target.open();
    await store.insertBars("AAA", minuteBars(T0, 1));
    await store.close();
    for (const args of [["audit"], ["audit", "check"], ["audit", "verify", "--due"], ["audit", "verify", "--symbol", "AAA"], ["audit", "rollup", "extra"], ["audit", "rollup", "--symbols", "AAA"]]) {
      const run = await cli([...args, ...target.args]);
      expect(run.code, args.join(" ")).toBe(2);
    }
    expect(await json(["audit", "verify", ...target.args])).toMatchObject({ rollups: { pending: 1 } });
  });
});

describe.skipIf(!available)("tradelite audit on PostgreSQL", () => auditCases((name) => postgresTarget(`audit_cli_${name}`, databases)));
