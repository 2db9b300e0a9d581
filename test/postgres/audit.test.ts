/**
 * The audit log on PostgreSQL (src/postgres/audit.ts) against SQLite's: the same ids,
 * timestamps and hashes for the same appends; a chain copied across verifies, tampering is found
 * at the same id, appends from several pools never fork the chain, and an entry recorded in the
 * caller's transaction commits and rolls back with it.
 *
 * Each test runs the same calls on a SQLite database in memory and on a PostgreSQL database of its
 * own, with the clock stopped at the same instant for both (setSystemTime), so timestamps and the
 * audit hashes that cover them must be identical too.
 */
import { afterEach, describe, expect, setSystemTime, test } from "bun:test";
import { auditHash } from "../../src/domain/audit.ts";
import { openDatabase, type AuditEntry } from "../../src/mod.ts";
import { appendAuditEntry, createAuditRepository } from "../../src/postgres/audit.ts";
import { createArtifactRepository } from "../../src/postgres/artifacts.ts";
import { PostgresPool } from "../../src/postgres/connection.ts";
import { migrate as migratePostgres } from "../../src/postgres/migrations.ts";
import { createPreferenceRepository } from "../../src/postgres/prefs.ts";
import { tempDir } from "../support/files.ts";
import { createTestDatabase } from "../support/postgres.ts";
import { insertPgAuditRows, insertSqliteAuditRows, outcome, readSqliteAuditRows, type RawAuditRow, type Records, available, cleanups, closeRecordTests, pair, both, valueOf, errorOf, expectSameAuditLog, MINUTE, T0 } from "../support/postgres-records.ts";

afterEach(closeRecordTests);

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
