/**
 * The records on PostgreSQL (src/postgres/metrics.ts, prefs.ts, audit.ts, artifacts.ts) against
 * SQLite's, operation by operation: each test runs the same calls on a SQLite database in memory
 * and on a PostgreSQL database of its own, with the clock stopped at the same instant for both
 * (setSystemTime), so timestamps and the audit hashes that cover them must be identical too.
 * Then what only PostgreSQL has to prove: a chain copied across verifies, tampering is found at
 * the same id, appends from several pools never fork the chain, and an entry recorded in the
 * caller's transaction commits and rolls back with it.
 */
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { auditHash } from "../../src/domain/audit.ts";
import { openDatabase, type AuditEntry, type MetricLabels, type MetricQuery } from "../../src/mod.ts";
import { appendAuditEntry, createAuditRepository } from "../../src/postgres/audit.ts";
import { createArtifactRepository } from "../../src/postgres/artifacts.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { createPreferenceRepository } from "../../src/postgres/prefs.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase, postgresAvailable } from "../support/postgres.ts";
import {
  insertPgAuditRows,
  insertSqliteAuditRows,
  openPgRecords,
  openRecordPair,
  outcome,
  readSqliteAuditRows,
  type Outcome,
  type RawAuditRow,
  type RecordPair,
  type Records,
} from "../support/postgres-records.ts";

const available = await postgresAvailable();
const MINUTE = 60_000;
/** 2024-01-02 09:31 in Shanghai. */
const T0 = Date.UTC(2024, 0, 2, 1, 31);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  setSystemTime();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pair(label: string): Promise<RecordPair> {
  const opened = await openRecordPair(label);
  cleanups.push(() => opened.close());
  return opened;
}

/**
 * Runs `work` on SQLite, then on PostgreSQL, each with the clock stopped at `at`, and expects
 * the same outcome (value, or error class, code, message and issues). Returns it.
 */
async function both<T>(records: RecordPair, at: number, work: (side: Records) => Promise<T>): Promise<Outcome<T>> {
  setSystemTime(at);
  const fromSqlite = await outcome(() => work(records.sqlite));
  setSystemTime(at);
  const fromPostgres = await outcome(() => work(records.pg));
  expect(fromPostgres).toEqual(fromSqlite);
  return fromPostgres;
}

function valueOf<T>(result: Outcome<T>): T {
  if (!("value" in result)) throw new Error(`expected a value, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function errorOf<T>(result: Outcome<T>): { name: string; code?: string; message: string; issues?: unknown } {
  if (!("error" in result)) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** After a test's mutations: the whole audit log is the same, hashes included, and verifies. */
async function expectSameAuditLog(records: RecordPair, at: number): Promise<AuditEntry[]> {
  const entries = valueOf(await both(records, at, (side) => side.audit.query()));
  expect(valueOf(await both(records, at, (side) => side.audit.verify()))).toEqual({ ok: true, checked: entries.length });
  return entries;
}

describe.skipIf(!available)("metrics: the same samples, filters and summaries as SQLite", () => {
  test("record, query by since/until (epoch ms, ISO, naive local time) and labels, summary, and the same refusals", async () => {
    const records = await pair("metrics");
    const names = ["sqlite.checkpoint.ms", "cache.repair:count"];
    for (let i = 0; i < 60; i++) {
      const labels: MetricLabels | undefined = i % 3 === 0 ? { role: "writer", index: String(i % 4) } : i % 3 === 1 ? { role: "reader" } : undefined;
      const value = i % 5 === 0 ? i : (i * 7.31) / 3 - 11.2;
      const sample = valueOf(await both(records, T0 + i * MINUTE, (side) => side.metrics.record(names[i % 2]!, value, labels)));
      expect(sample.timestamp).toBe(T0 + i * MINUTE);
    }
    // Two samples at the same instant come back in the order they were recorded.
    await both(records, T0 + 30 * MINUTE, (side) => side.metrics.record(names[0]!, 1e-300, { z: "last", a: "first" }));
    const queries: MetricQuery[] = [
      {},
      { since: T0 + 10 * MINUTE },
      { until: T0 + 20 * MINUTE },
      { since: T0 + 10 * MINUTE, until: T0 + 30 * MINUTE },
      { since: T0 + 30 * MINUTE, until: T0 + 30 * MINUTE },
      { since: "2024-01-02 09:45", until: "2024-01-02T10:05:00+08:00" },
      { labels: { role: "writer" } },
      { labels: { role: "writer", index: "2" } },
      { labels: {} },
      { labels: { role: "nobody" } },
      { since: T0 + 40 * MINUTE, labels: { role: "reader" } },
    ];
    for (const name of [...names, "never.recorded"]) {
      for (const query of queries) await both(records, T0, (side) => side.metrics.query(name, query));
      const summary = valueOf(await both(records, T0, (side) => side.metrics.summary(name)));
      expect(typeof summary.count).toBe("number");
    }
    expect(valueOf(await both(records, T0, (side) => side.metrics.query(names[0]!, { labels: { role: "writer" } }))).length).toBe(10);
    expect(valueOf(await both(records, T0, (side) => side.metrics.summary("never.recorded")))).toEqual({
      name: "never.recorded", count: 0, min: null, max: null, mean: null, last: null,
    });
    const refused: Array<(side: Records) => Promise<unknown>> = [
      (side: Records) => side.metrics.record("1starts.with.digit", 1),
      (side: Records) => side.metrics.record("ok", Number.NaN),
      (side: Records) => side.metrics.record("ok", Infinity, { role: 1 as never }),
      (side: Records) => side.metrics.record("ok", 1, { "bad key": "v" }),
      (side: Records) => side.metrics.record("ok", 1, { big: "x".repeat(5_000) }),
      (side: Records) => side.metrics.query("ok", { start: T0 } as never),
      (side: Records) => side.metrics.query("ok", { since: T0 + 1, until: T0 }),
      (side: Records) => side.metrics.query("ok", { labels: [] as never }),
      (side: Records) => side.metrics.query("has space"),
      (side: Records) => side.metrics.summary(""),
    ];
    for (const work of refused) expect(errorOf(await both(records, T0, work)).code).toBe("VALIDATION");
  });

  test("values read back exactly: tiny, huge, negative and inexact floats", async () => {
    const records = await pair("metric_values");
    const values = [5e-324, 1.7976931348623157e308, -2.5, 0.1 + 0.2, 2 ** 53 - 1, 1 / 3, 0];
    for (const [i, value] of values.entries()) await both(records, T0 + i, (side) => side.metrics.record("exact", value));
    const samples = valueOf(await both(records, T0, (side) => side.metrics.query("exact")));
    expect(samples.map((sample) => sample.value)).toEqual(values);
    const summary = valueOf(await both(records, T0, (side) => side.metrics.summary("exact")));
    expect(summary).toMatchObject({ count: values.length, min: -2.5, max: 1.7976931348623157e308, last: 0 });
    // A sum past the largest double: SQLite's mean is Infinity, not an error.
    for (const [i, value] of [1.7e308, 1.7e308, -1].entries()) await both(records, T0 + i, (side) => side.metrics.record("overflow", value));
    expect(valueOf(await both(records, T0, (side) => side.metrics.summary("overflow"))).mean).toBe(Infinity);
  });

  test("the mean is SQLite's to the last bit: compensated summation over 5,000 values of mixed magnitude", async () => {
    const records = await pair("metric_mean");
    let seed = 12_345;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      const value = (random() - 0.3) * 10 ** Math.floor(random() * 12 - 4);
      // Out of time order on purpose: SQLite sums in (timestamp, id) order.
      const at = T0 + ((i * 7_919) % 5_000) * 1_000;
      await both(records, at, (side) => side.metrics.record("mixed", value, { i: String(i) }));
    }
    const summary = valueOf(await both(records, T0, (side) => side.metrics.summary("mixed")));
    expect(summary.count).toBe(5_000);
  });
});

describe.skipIf(!available)("preferences: the same values, schemas and refusals as SQLite", () => {
  const chart = z.object({ interval: z.enum(["1m", "5m", "1d"]), symbols: z.array(z.string()).max(3) }).strict();

  test("define, set, get, all (code point order), delete; each set and existing delete audited the same way", async () => {
    const records = await pair("prefs");
    records.sqlite.prefs.define("chart", chart);
    records.pg.prefs.define("chart", chart);
    let at = T0;
    const settings: Array<[string, unknown]> = [
      ["chart", { interval: "5m", symbols: ["600519.SH", "BTC/USDT"] }],
      ["theme", "dark"],
      ["Zeta", [1, 2.5, -3e-7, null, true, { nested: { deeper: ["x"] } }]],
      ["\u{1F600}", "emoji key, after U+FF01 by code point"],
      ["\uFF01", { "\u{1F600}": 1, "\uFF01": 2, b: 3, a: 4 }],
      ["é", null],
      ["theme", "light"],
      ["empty", {}],
    ];
    for (const [key, value] of settings) {
      const set = valueOf(await both(records, (at += 1_000), (side) => side.prefs.set(key, value)));
      expect(set.updated_at).toBe(at);
    }
    for (const key of ["chart", "theme", "Zeta", "\u{1F600}", "missing"]) await both(records, at, (side) => side.prefs.get(key));
    const all = valueOf(await both(records, at, (side) => side.prefs.all()));
    expect(all.map((preference) => preference.key)).toEqual(["Zeta", "chart", "empty", "theme", "é", "\uFF01", "\u{1F600}"]);
    expect(valueOf(await both(records, (at += 1_000), (side) => side.prefs.delete("theme")))).toBe(true);
    expect(valueOf(await both(records, (at += 1_000), (side) => side.prefs.delete("theme")))).toBe(false);
    await both(records, at, (side) => side.prefs.all());
    const entries = await expectSameAuditLog(records, at);
    expect(entries.map((entry) => entry.action)).toEqual([...settings.map(() => "prefs.set"), "prefs.delete"]);
    expect(entries[0]).toMatchObject({ actor: "tradelite", entity: "chart", details: { bytes: 52 } });
  });

  test("bad values and keys are refused with the same ValidationError issues, and nothing is written", async () => {
    const records = await pair("prefs_bad");
    records.sqlite.prefs.define("chart", chart);
    records.pg.prefs.define("chart", chart);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const badValues: unknown[] = [
      { interval: "2m", symbols: ["a", "b", "c", "d"] },
      { interval: "5m", symbols: [], extra: true },
      "not an object",
    ];
    for (const value of badValues) {
      const error = errorOf(await both(records, T0, (side) => side.prefs.set("chart", value)));
      expect(error.code).toBe("VALIDATION");
      expect((error.issues as { field: string }[])[0]!.field.startsWith("value")).toBe(true);
    }
    const unfaithful: unknown[] = [
      Number.NaN, Infinity, undefined, () => 1, 1n, cycle, new Date(T0), new Map([["a", 1]]), { nested: [1, Number.NaN] },
      "\uD800 lone surrogate", "x".repeat(70_000),
    ];
    for (const value of unfaithful) expect(errorOf(await both(records, T0, (side) => side.prefs.set("free", value))).code).toBe("VALIDATION");
    for (const key of ["", "has space", "x".repeat(129), "tab\there", "nul\u0000", 42 as never]) {
      expect(errorOf(await both(records, T0, (side) => side.prefs.set(key, 1))).code).toBe("VALIDATION");
      expect(errorOf(await both(records, T0, (side) => side.prefs.get(key))).code).toBe("VALIDATION");
      expect(errorOf(await both(records, T0, (side) => side.prefs.delete(key))).code).toBe("VALIDATION");
    }
    const notSchema = await Promise.all([
      outcome(() => records.sqlite.prefs.define("k", {} as never)),
      outcome(() => records.pg.prefs.define("k", {} as never)),
    ]);
    expect(notSchema[1]).toEqual(notSchema[0]);
    expect(valueOf(await both(records, T0, (side) => side.prefs.all()))).toEqual([]);
    expect(valueOf(await both(records, T0, (side) => side.audit.head()))).toBeNull();
  });
});

describe.skipIf(!available)("the audit log: the same chain and answers as SQLite", () => {
  const actors = ["alice", "bob", "tradelite", "名前"];
  const actions = ["bars.insert", "prefs.set", "cache.compact"];

  function inputAt(i: number) {
    return {
      actor: actors[i % actors.length]!,
      action: actions[i % actions.length]!,
      entity: i % 5 === 0 ? null : `600${i}.SH`,
      details: i % 7 === 0 ? null : { rows: i, range: [T0, T0 + i * MINUTE], ratio: i / 8, note: `第${i}批 ✓`, z: { b: true, a: [] } },
    };
  }

  test("300 appends give the same ids, timestamps and hashes; query, head and verify answer the same; refusals match", async () => {
    const records = await pair("audit");
    for (let i = 0; i < 300; i++) {
      const entry = valueOf(await both(records, T0 + i * 1_000, (side) => side.audit.append(inputAt(i))));
      expect(entry.id).toBe(i + 1);
    }
    const queries = [
      {},
      { actor: "alice" },
      { action: "prefs.set" },
      { actor: "名前", action: "bars.insert" },
      { since: T0 + 100_000, until: T0 + 150_000 },
      { since: "2024-01-02 09:33", limit: 7 },
      { limit: 1 },
      { actor: "nobody" },
    ];
    for (const query of queries) await both(records, T0, (side) => side.audit.query(query));
    const entries = await expectSameAuditLog(records, T0);
    expect(entries.length).toBe(300);
    entries.forEach((entry, i) => {
      expect(entry.prev_hash).toBe(i === 0 ? "0".repeat(64) : entries[i - 1]!.hash);
      const { prev_hash, hash, ...content } = entry;
      expect(auditHash(prev_hash, content)).toBe(hash);
    });
    const head = valueOf(await both(records, T0, (side) => side.audit.head()));
    expect(head).toEqual({ id: 300, hash: entries[299]!.hash });
    expect(valueOf(await both(records, T0, (side) => side.audit.verify({ head: head! })))).toEqual({ ok: true, checked: 300 });
    const refused: Array<(side: Records) => Promise<unknown>> = [
      (side: Records) => side.audit.append({ actor: "", action: "x" }),
      (side: Records) => side.audit.append({ actor: "a", action: "b", details: { n: Number.NaN } }),
      (side: Records) => side.audit.append({ actor: "a", action: "b", entity: "" }),
      (side: Records) => side.audit.append({ actor: "a\uD800", action: "b" }),
      (side: Records) => side.audit.append(null as never),
      (side: Records) => side.audit.query({ limit: 0 }),
      (side: Records) => side.audit.query({ who: "x" } as never),
      (side: Records) => side.audit.query({ actor: 1 as never }),
      (side: Records) => side.audit.query({ since: T0 + 1, until: T0 }),
      (side: Records) => side.audit.verify({ head: { id: "1" as never, hash: "x" } }),
    ];
    for (const work of refused) expect(errorOf(await both(records, T0, work)).code).toBe("VALIDATION");
    expect(valueOf(await both(records, T0, (side) => side.audit.head()))).toEqual(head);
  });

  describe("a chain copied from SQLite, tampered or not, gets the same verdict on both", () => {
    const ENTRIES = 40;
    let source: RawAuditRow[];
    let sourceHead: { id: number; hash: string };

    async function verdicts(rows: RawAuditRow[], head?: { id: number; hash: string }) {
      const dir = tempDir("tradelite-pg-audit-");
      cleanups.push(() => dir.cleanup());
      const path = dir.file("copy.db");
      const db = openDatabase({ path });
      cleanups.push(() => db.close());
      insertSqliteAuditRows(path, rows);
      const fresh = await createTestDatabase("audit_copy");
      const pool = new PostgresPool({ url: fresh.url, max: 2 });
      cleanups.push(async () => {
        await pool.close();
        await fresh.drop();
      });
      await migratePostgres(pool.sql);
      await insertPgAuditRows(pool, rows);
      const audit = createAuditRepository(pool, { timezone: "UTC", actor: "tradelite" });
      const options = head === undefined ? undefined : { head };
      const fromSqlite = db.audit.verify(options);
      const fromPostgres = await audit.verify(options);
      expect(fromPostgres).toEqual(fromSqlite);
      expect(await audit.head()).toEqual(db.audit.head());
      return fromPostgres;
    }

    async function buildSource(count: number): Promise<RawAuditRow[]> {
      const dir = tempDir("tradelite-pg-audit-src-");
      cleanups.push(() => dir.cleanup());
      const path = dir.file("source.db");
      const db = openDatabase({ path });
      for (let i = 0; i < count; i++) {
        setSystemTime(T0 + i * 1_000);
        db.audit.append(i === 22 ? { actor: "alice", action: "x", details: { n: 1 } } : inputAt(i));
      }
      setSystemTime();
      db.close();
      return readSqliteAuditRows(path);
    }

    const at = (id: number, change: Partial<RawAuditRow>) => (rows: RawAuditRow[]) => rows.map((row) => (row.id === id ? { ...row, ...change } : row));

    test("untouched, it verifies on PostgreSQL as on SQLite, with the same head", async () => {
      source = await buildSource(ENTRIES);
      sourceHead = { id: source.at(-1)!.id, hash: source.at(-1)!.hash };
      expect(await verdicts(source)).toEqual({ ok: true, checked: ENTRIES });
      expect(await verdicts(source, sourceHead)).toEqual({ ok: true, checked: ENTRIES });
    });

    test("a changed field, a duplicate-key details text, non-JSON details, a broken link, a gap and a wrong row at the end are found at the same id", async () => {
      source ??= await buildSource(ENTRIES);
      const cases: Array<[string, (rows: RawAuditRow[]) => RawAuditRow[], number]> = [
        ["details rewritten, hash kept", at(17, { details: '{"rows":1}' }), 17],
        ["actor rewritten", at(3, { actor: "mallory" }), 3],
        ["timestamp rewritten", at(40, { timestamp: T0 }), 40],
        // Parses to the same value, so the hash matches; the text is still not what append writes.
        ["duplicate key in details", at(23, { details: '{"n":1,"n":1}' }), 23],
        ["details not JSON", at(30, { details: "{not json" }), 30],
        ["prev_hash broken", at(8, { prev_hash: "f".repeat(64) }), 8],
        ["entry 12 missing", (rows) => rows.filter((row) => row.id !== 12), 13],
        [
          "a wrong row appended",
          (rows) => [...rows, { ...rows.at(-1)!, id: ENTRIES + 1, prev_hash: rows.at(-1)!.hash, hash: "0".repeat(64) }],
          ENTRIES + 1,
        ],
      ];
      for (const [label, tamper, firstBadId] of cases) {
        const verdict = await verdicts(tamper(source));
        expect({ label, verdict }).toEqual({ label, verdict: { ok: false, checked: label === "entry 12 missing" ? 12 : firstBadId, firstBadId } });
      }
    });

    test("a truncated log and a re-hashed forgery verify alone, and are caught by the head kept from before", async () => {
      source ??= await buildSource(ENTRIES);
      sourceHead ??= { id: source.at(-1)!.id, hash: source.at(-1)!.hash };
      const truncated = source.slice(0, ENTRIES - 5);
      expect(await verdicts(truncated)).toEqual({ ok: true, checked: ENTRIES - 5 });
      expect(await verdicts(truncated, sourceHead)).toEqual({ ok: false, checked: ENTRIES - 5, firstBadId: ENTRIES - 4 });
      // Entry 5 rewritten and every later hash recomputed: a consistent chain, but not the one whose head was kept.
      const forged: RawAuditRow[] = [];
      for (const row of source) {
        const prev = forged.at(-1)?.hash ?? "0".repeat(64);
        const changed = row.id === 5 ? { ...row, actor: "mallory" } : row;
        const content = { id: changed.id, timestamp: changed.timestamp, actor: changed.actor, action: changed.action, entity: changed.entity, details: JSON.parse(changed.details) };
        forged.push({ ...changed, prev_hash: prev, hash: auditHash(prev, content) });
      }
      expect(await verdicts(forged)).toEqual({ ok: true, checked: ENTRIES });
      expect(await verdicts(forged, sourceHead)).toEqual({ ok: false, checked: ENTRIES, firstBadId: ENTRIES });
    });

    test("verify reads page after page: a bad entry past the first 8,192 is found at the same id", async () => {
      const long = await buildSource(9_000);
      expect(await verdicts(long)).toEqual({ ok: true, checked: 9_000 });
      expect(await verdicts(at(8_500, { entity: "changed" })(long))).toEqual({ ok: false, checked: 8_500, firstBadId: 8_500 });
    });
  });
});

describe.skipIf(!available)("the audit chain on PostgreSQL under concurrency and inside transactions", () => {
  test("200 appends from 4 pools at once leave one unbroken chain, ids 1 to 200", async () => {
    const fresh = await createTestDatabase("audit_concurrent");
    const pools = Array.from({ length: 4 }, () => new PostgresPool({ url: fresh.url, max: 3 }));
    cleanups.push(async () => {
      await Promise.all(pools.map((pool) => pool.close()));
      await fresh.drop();
    });
    await migratePostgres(pools[0]!.sql);
    const audits = pools.map((pool) => createAuditRepository(pool, { timezone: "UTC", actor: "tradelite" }));
    const appended = await Promise.all(
      Array.from({ length: 200 }, (_, i) => audits[i % 4]!.append({ actor: `pool${i % 4}`, action: "test.append", entity: String(i), details: { i } })),
    );
    expect(appended.map((entry) => entry.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const byId = [...appended].sort((a, b) => a.id - b.id);
    byId.forEach((entry, i) => expect(entry.prev_hash).toBe(i === 0 ? "0".repeat(64) : byId[i - 1]!.hash));
    expect(await audits[1]!.verify()).toEqual({ ok: true, checked: 200 });
    expect(await audits[2]!.head()).toEqual({ id: 200, hash: byId[199]!.hash });

    // Mutations that audit (preferences, one artifact registered from every pool) racing appends.
    const prefs = pools.map((pool, i) => createPreferenceRepository(pool, audits[i]!.record));
    const artifacts = pools.map((pool, i) => createArtifactRepository(pool, audits[i]!.record));
    const model = { name: "shared", version: "1", path: "/models/shared.bin", sha256: "a".repeat(64), size: 3 };
    const raced = await Promise.all([
      ...Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? prefs[i % 4]!.set(`key${i}`, i) : audits[i % 4]!.append({ actor: "x", action: "y" }))),
      ...artifacts.map((each) => each.register(model, { readFile: false })),
    ]);
    expect(new Set(raced.slice(100).map((artifact) => JSON.stringify(artifact))).size).toBe(1);
    expect(await audits[3]!.verify()).toEqual({ ok: true, checked: 301 });
    expect((await audits[0]!.query({ action: "artifacts.register" })).length).toBe(1);
  });

  test("an entry recorded in the caller's transaction commits with its mutation and rolls back with it", async () => {
    const records = await pair("audit_tx");
    const { pool, pg } = records;
    const committed = await pool.sql.begin(async (tx) => {
      await tx`INSERT INTO user_preferences (key, value, updated_at) VALUES ('kept', '1', 0)`;
      return appendAuditEntry(tx, { actor: "store", action: "prefs.set", entity: "kept", details: { bytes: 1 } });
    });
    expect(committed.id).toBe(1);
    const failed = await pool.sql
      .begin(async (tx) => {
        await tx`INSERT INTO user_preferences (key, value, updated_at) VALUES ('lost', '1', 0)`;
        await appendAuditEntry(tx, { actor: "store", action: "prefs.set", entity: "lost", details: { bytes: 1 } });
        throw new Error("the mutation failed after its entry was written");
      })
      .catch((error: Error) => error.message);
    expect(failed).toBe("the mutation failed after its entry was written");
    expect((await pg.prefs.all()).map((preference) => preference.key)).toEqual(["kept"]);
    expect(await pg.audit.head()).toEqual({ id: 1, hash: committed.hash });
    // Bad input is refused before anything is written, in the caller's transaction as in append().
    const refused = await pool.sql.begin((tx) => appendAuditEntry(tx, { actor: "", action: "x" })).catch((error: unknown) => error);
    expect((refused as { code?: string }).code).toBe("VALIDATION");
    expect(await pg.audit.verify()).toEqual({ ok: true, checked: 1 });
  });

  test("as(actor) names who the entries of async calls credit, concurrent calls each their own, as SQLite's asActor does", async () => {
    const records = await pair("audit_actor");
    const { db, pg } = records;
    setSystemTime(T0);
    db.asActor("alice", () => db.prefs.set("a", 1));
    db.asActor("bob", () => db.prefs.set("b", 2));
    db.prefs.set("c", 3);
    await Promise.all([
      pg.audit.record.as("alice", () => pg.prefs.set("a", 1)),
      pg.audit.record.as("bob", () => pg.prefs.set("b", 2)),
      pg.prefs.set("c", 3),
    ]);
    const actorOf = (entries: AuditEntry[]) => Object.fromEntries(entries.map((entry) => [entry.entity, entry.actor]));
    expect(actorOf(await pg.audit.query())).toEqual(actorOf(db.audit.query()));
    expect(actorOf(await pg.audit.query())).toEqual({ a: "alice", b: "bob", c: "tradelite" });
    const refused = await Promise.all([outcome(() => db.asActor("", () => 1)), outcome(() => pg.audit.record.as("", () => 1))]);
    expect(refused[1]).toEqual(refused[0]);
  });
});

/** Register options naming an actor: both backends' register() take `actor`; the Store's type does not name it. */
function asActor(actor: string): { readFile: boolean } {
  return { readFile: false, actor } as { readFile: boolean };
}

describe.skipIf(!available)("artifacts: the same registrations, reads, conflicts and audit entries as SQLite", () => {
  test("register (hashing the file, or readFile: false), get, list by name and tag, remove, and conflicts on a duplicate (name, version)", async () => {
    const records = await pair("artifacts");
    const dir = tempDir("tradelite-pg-artifacts-");
    cleanups.push(() => dir.cleanup());
    const lstm1 = dir.file("lstm-1.bin");
    const lstm2 = dir.file("lstm-2.bin");
    writeFileSync(lstm1, "weights v1");
    writeFileSync(lstm2, new Uint8Array(200_000).map((_, i) => i % 251));
    mkdirSync(dir.file("a-directory"));
    let at = T0;
    const step = <T>(work: (side: Records) => Promise<T>) => both(records, (at += 1_000), work);

    const first = valueOf(await step((side) => side.artifacts.register({ name: "lstm", version: "1", path: lstm1 })));
    expect(first).toMatchObject({ size: 10, sha256: new Bun.CryptoHasher("sha256").update("weights v1").digest("hex"), created_at: at });
    await step((side) =>
      side.artifacts.register({
        name: "lstm", version: "2", path: lstm2, params: { layers: 3, lr: 0.001, "ü": [1, { x: null }] }, metrics: { sharpe: 1.25 }, tags: ["prod", "gpu", "prod"],
      }),
    );
    await step((side) => side.artifacts.register({ name: "arima", version: "1", path: dir.file("missing.bin"), tags: ["prod"] }));
    await step((side) => side.artifacts.register({ name: "arima", version: "2", path: "/elsewhere/arima.bin", sha256: "b".repeat(64), size: 123 }, { readFile: false }));
    await step((side) => side.artifacts.register({ name: "xgb", version: "1", path: "/elsewhere/xgb.bin", sha256: "c".repeat(64), size: 1 }, asActor("carol")));

    const refusals: Array<(side: Records) => Promise<unknown>> = [
      (side: Records) => side.artifacts.register({ name: "nohash", version: "1", path: lstm1 }, { readFile: false }),
      (side: Records) => side.artifacts.register({ name: "wrongsize", version: "1", path: lstm1, size: 11 }),
      (side: Records) => side.artifacts.register({ name: "wrongsize", version: "2", path: lstm1, size: 11, sha256: "d".repeat(64) }),
      (side: Records) => side.artifacts.register({ name: "dir", version: "1", path: dir.file("a-directory") }),
      (side: Records) => side.artifacts.register({ name: "has space", version: "1", path: lstm1, tags: ["ok", "not ok"], extra: 1 } as never),
      (side: Records) => side.artifacts.register({ name: "badactor", version: "1", path: "/x", sha256: "e".repeat(64), size: 1 }, asActor("")),
      (side: Records) => side.artifacts.get("lstm", "has space"),
      (side: Records) => side.artifacts.list({ nme: "lstm" } as never),
      (side: Records) => side.artifacts.list({ tag: 1 as never }),
      (side: Records) => side.artifacts.remove("", "1"),
    ];
    for (const work of refusals) expect(errorOf(await step(work)).code).toBe("VALIDATION");

    // Again with the same hash: a no-op answering the first registration; with another, or after one without a hash: a conflict.
    expect(valueOf(await step((side) => side.artifacts.register({ name: "lstm", version: "1", path: lstm1 })))).toEqual(first);
    expect(errorOf(await step((side) => side.artifacts.register({ name: "lstm", version: "1", path: lstm2 }))).code).toBe("CONFLICT");
    expect(errorOf(await step((side) => side.artifacts.register({ name: "arima", version: "1", path: dir.file("missing.bin") }))).message).toContain("without a hash");

    expect(valueOf(await step((side) => side.artifacts.get("lstm")))!.version).toBe("2");
    for (const [name, version] of [["lstm", "1"], ["arima", undefined], ["none", undefined], ["lstm", "9"]] as const) {
      await step((side) => side.artifacts.get(name, version));
    }
    for (const query of [undefined, {}, { name: "lstm" }, { tag: "prod" }, { tag: "gpu", name: "arima" }, { tag: "none" }, { name: "none" }]) {
      await step((side) => side.artifacts.list(query));
    }
    expect(valueOf(await step((side) => side.artifacts.list({ tag: "prod" }))).map((artifact) => `${artifact.name}@${artifact.version}`)).toEqual(["arima@1", "lstm@2"]);
    expect(valueOf(await step((side) => side.artifacts.remove("lstm", "1")))).toBe(true);
    expect(valueOf(await step((side) => side.artifacts.remove("lstm", "1")))).toBe(false);
    await step((side) => side.artifacts.list());

    const entries = await expectSameAuditLog(records, at);
    expect(entries.map((entry) => [entry.actor, entry.action, entry.entity])).toEqual([
      ["tradelite", "artifacts.register", "lstm@1"],
      ["tradelite", "artifacts.register", "lstm@2"],
      ["tradelite", "artifacts.register", "arima@1"],
      ["tradelite", "artifacts.register", "arima@2"],
      ["carol", "artifacts.register", "xgb@1"],
      ["tradelite", "artifacts.remove", "lstm@1"],
    ]);
  });
});

describe.skipIf(!available)("statements", () => {
  test("statement text never varies with the data: a second round of different records adds no prepared statement", async () => {
    const fresh = await createTestDatabase("records_prepared");
    const single = new PostgresPool({ url: fresh.url, max: 1 });
    cleanups.push(async () => {
      await single.close();
      await fresh.drop();
    });
    await migratePostgres(single.sql);
    const pg = openPgRecords(single, { timezone: "UTC", actor: "tradelite" });
    const round = async (n: number) => {
      await pg.metrics.record(`m${n}`, n * 1.5, { round: String(n), [`k${n}`]: "v" });
      await pg.metrics.query(`m${n}`, { since: n, until: T0 + n, labels: { round: String(n) } });
      await pg.metrics.query(`m${n}`);
      await pg.metrics.summary(`m${n}`);
      await pg.prefs.set(`p${n}`, { n, list: Array.from({ length: n }, (_, i) => i) });
      await pg.prefs.get(`p${n}`);
      await pg.prefs.all();
      await pg.prefs.delete(`p${n}`);
      await pg.audit.append({ actor: `a${n}`, action: "x", entity: n % 2 ? null : "e", details: { n } });
      await pg.audit.query({ actor: `a${n}`, action: "x", limit: n });
      await pg.audit.query({});
      await pg.audit.head();
      await pg.audit.verify();
      await pg.artifacts.register({ name: `m${n}`, version: String(n), path: `/p/${n}`, sha256: String(n % 10).repeat(64), size: n, tags: [`t${n}`] }, { readFile: false });
      await pg.artifacts.get(`m${n}`);
      await pg.artifacts.get(`m${n}`, String(n));
      await pg.artifacts.list({ name: `m${n}`, tag: `t${n}` });
      await pg.artifacts.list();
      await pg.artifacts.remove(`m${n}`, String(n));
    };
    const counted = async () => {
      const [{ count }] = await single.sql`SELECT count(*)::integer AS count FROM pg_prepared_statements`;
      return count as number;
    };
    await round(1);
    await round(2);
    const before = await counted();
    for (let n = 3; n < 10; n++) await round(n);
    expect(await counted()).toBe(before);
  });
});
