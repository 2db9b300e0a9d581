/**
 * The audit log (src/sqlite/audit.ts) on real files: the hash chain recomputed independently (in
 * this file and in Python), query filters, refused input, append-only triggers, tampering that
 * goes around them, and the entries the store's own mutations record.
 */
import { afterEach, beforeEach, describe, expect, setSystemTime, test } from "bun:test";
import { Database as RawDatabase } from "bun:sqlite";
import { GENESIS_HASH } from "../../src/domain/audit.ts";
import { openDatabase, openStore, StorageError, ValidationError, type AuditEntry, type Bar, type Database, type DatabaseOptions, type Issue, type Store } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { tempDir } from "../support/files.ts";
import { runPython } from "../support/interop-python.ts";

const MINUTE = 60_000;
/** 2024-01-02 09:31 in Shanghai. */
const T0 = Date.UTC(2024, 0, 2, 1, 31);
/** verify() reads the table in pages of this many rows (src/sqlite/series.ts PAGE_ROWS). */
const PAGE_ROWS = 8_192;

let dir: ReturnType<typeof tempDir>;
let files = 0;
/**
 * These tests prove the entries of each mutation at the per-call grain (auditRollupMs 0); the
 * default grain's rollups of live appends are test/sqlite/audit-rollup.test.ts's.
 */
const PER_CALL = 0;
const opened: Array<{ close(): unknown }> = [];

beforeEach(() => {
  dir = tempDir("tradelite-audit-");
});

afterEach(async () => {
  setSystemTime();
  for (const handle of opened.splice(0).reverse()) await handle.close();
  dir.cleanup();
});

function newPath(): string {
  return dir.file(`audit-${++files}.db`);
}

function open(options: DatabaseOptions = {}): Database {
  const db = openDatabase({ path: newPath(), auditRollupMs: PER_CALL, ...options });
  opened.push(db);
  return db;
}

/** A second client on the same file, the way the sqlite3 shell or another program would be. */
function raw(path: string): RawDatabase {
  const client = new RawDatabase(path);
  client.exec("PRAGMA busy_timeout = 5000");
  opened.push(client);
  return client;
}

/** A raw client with the append-only triggers gone: the tampering verify() must catch. */
function rawWithoutTriggers(path: string): RawDatabase {
  const client = raw(path);
  client.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
  return client;
}

// An independent canonical JSON (not the one in src/): keys sorted at every level, no whitespace.
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

type Content = Pick<AuditEntry, "id" | "timestamp" | "actor" | "action" | "entity" | "details">;

function expectedHash(prevHash: string, entry: Content): string {
  const { id, timestamp, actor, action, entity, details } = entry;
  const body = canonical({ id, timestamp, actor, action, entity, details });
  return new Bun.CryptoHasher("sha256").update(`${prevHash}\n${body}`).digest("hex");
}

function rowCount(path: string): number {
  const client = new RawDatabase(path, { readonly: true });
  try {
    return (client.query("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n;
  } finally {
    client.close();
  }
}

/** The issues of the ValidationError `work` throws (and fails the test when it throws anything else). */
function validationIssues(work: () => unknown): Issue[] {
  let thrown: unknown;
  try {
    work();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ValidationError);
  return (thrown as ValidationError).issues;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

function minuteBars(count: number, seed = 1, start = T0): Bar[] {
  return randomBars(Array.from({ length: count }, (_, i) => start + i * MINUTE), seed);
}

/** Appends `count` entries in one transaction (fast), details { n } for n = 1..count. */
function appendMany(db: Database, count: number): void {
  db.transaction(() => {
    for (let n = 1; n <= count; n++) db.audit.append({ actor: "tester", action: "step", entity: `e${n}`, details: { n } });
  });
}

describe("audit log: the hash chain", () => {
  test("append numbers entries from 1, starts at the genesis hash and links each prev_hash to the hash before it", () => {
    const db = open();
    const entries = Array.from({ length: 5 }, (_, i) => db.audit.append({ actor: "alice", action: "note", details: { i } }));
    expect(entries.map((entry) => entry.id)).toEqual([1, 2, 3, 4, 5]);
    expect(GENESIS_HASH).toBe("0".repeat(64));
    expect(entries[0]!.prev_hash).toBe("0".repeat(64));
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev_hash).toBe(entries[i - 1]!.hash);
    for (const entry of entries) expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(entries.map((entry) => entry.hash)).size).toBe(5);
  });

  test("append stamps the entry with the current time and fills entity and details with null when omitted", () => {
    const db = open();
    setSystemTime(new Date(T0));
    const entry = db.audit.append({ actor: "alice", action: "login" });
    expect(entry).toEqual({
      id: 1,
      timestamp: T0,
      actor: "alice",
      action: "login",
      entity: null,
      details: null,
      prev_hash: GENESIS_HASH,
      hash: expect.any(String),
    });
  });

  test("each hash is SHA-256 over prev_hash, a newline and the canonical JSON of the entry, keys sorted at every level", () => {
    const db = open();
    const inputs = [
      { actor: "alice", action: "login" },
      { actor: "bob", action: "order.submit", entity: "600519", details: { zeta: 1, alpha: { y: [3, { b: true, a: null }], x: "s" }, mid: -7 } },
      { actor: "交易员", action: "备注", entity: "贵州茅台", details: ["a", { "键": "值", "b": false }, 0, ""] },
      { actor: "carol", action: "quote", entity: null, details: "a \"quoted\" \\ line\nwith\ttabs" },
    ];
    let prevHash = GENESIS_HASH;
    for (const input of inputs) {
      const entry = db.audit.append(input);
      expect(entry.prev_hash).toBe(prevHash);
      expect(entry.hash).toBe(expectedHash(prevHash, entry));
      prevHash = entry.hash;
    }
  });

  test("the stored rows hash the same as what append returned, read back through query()", () => {
    const db = open();
    const appended = [
      db.audit.append({ actor: "a", action: "x", details: { nested: { b: 2, a: 1 } } }),
      db.audit.append({ actor: "b", action: "y", entity: "S" }),
    ];
    const stored = db.audit.query();
    expect(stored).toEqual(appended);
    let prevHash = GENESIS_HASH;
    for (const entry of stored) {
      expect(entry.hash).toBe(expectedHash(prevHash, entry));
      prevHash = entry.hash;
    }
  });

  test("the order of keys in details does not change the hash (the form is canonical)", () => {
    setSystemTime(new Date(T0));
    const first = open().audit.append({ actor: "a", action: "x", details: { b: 1, a: { d: 2, c: 3 } } });
    const second = open().audit.append({ actor: "a", action: "x", details: { a: { c: 3, d: 2 }, b: 1 } });
    expect(second.hash).toBe(first.hash);
    const third = open().audit.append({ actor: "a", action: "x", details: { a: { c: 3, d: 2 }, b: 2 } });
    expect(third.hash).not.toBe(first.hash);
  });

  test("the chain continues across close and reopen of the file", () => {
    const path = newPath();
    const first = openDatabase({ path, auditRollupMs: PER_CALL });
    const before = first.audit.append({ actor: "a", action: "x" });
    first.close();
    const second = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(second);
    const after = second.audit.append({ actor: "a", action: "y" });
    expect(after.id).toBe(2);
    expect(after.prev_hash).toBe(before.hash);
    expect(second.audit.verify()).toEqual({ ok: true, checked: 2 });
  });

  test("appends from two processes at once interleave into one valid chain", async () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    const ready = dir.file("child.ready");
    const script = `
      import { openDatabase } from ${JSON.stringify(`${import.meta.dir}/../../src/mod.ts`)};
      const db = openDatabase({ path: process.argv[1] });
      await Bun.write(process.argv[2], "");
      for (let i = 0; i < 300; i++) db.audit.append({ actor: "child", action: "tick", details: { i } });
      db.close();
    `;
    const child = Bun.spawn(["bun", "-e", script, path, ready], { stdout: "pipe", stderr: "pipe" });
    const deadline = performance.now() + 15_000;
    while (!(await Bun.file(ready).exists())) {
      if (performance.now() > deadline) throw new Error("child never became ready");
      await Bun.sleep(5);
    }
    for (let i = 0; i < 300; i++) {
      db.audit.append({ actor: "parent", action: "tick", details: { i } });
      if (i % 25 === 0) await Bun.sleep(1);
    }
    const exitCode = await child.exited;
    expect({ exitCode, stderr: await new Response(child.stderr).text() }).toEqual({ exitCode: 0, stderr: "" });
    expect(db.audit.verify()).toEqual({ ok: true, checked: 600 });
    expect(db.audit.query({ actor: "child" })).toHaveLength(300);
    expect(db.audit.query({ actor: "parent" })).toHaveLength(300);
  });
});

describe("audit log: query", () => {
  /** Six entries one second apart from T0: actors alternate a/b, actions x,x,y,y,x,y. */
  function sixEntries(db: Database): AuditEntry[] {
    const plan = [
      ["a", "x"],
      ["b", "x"],
      ["a", "y"],
      ["b", "y"],
      ["a", "x"],
      ["b", "y"],
    ] as const;
    return plan.map(([actor, action], i) => {
      setSystemTime(new Date(T0 + i * 1000));
      return db.audit.append({ actor, action, details: { i } });
    });
  }

  test("with no options it returns every entry in id order", () => {
    const db = open();
    const entries = sixEntries(db);
    expect(db.audit.query()).toEqual(entries);
    expect(db.audit.query({})).toEqual(entries);
  });

  test("since and until are inclusive bounds on the timestamp, as epoch ms, Date or ISO text", () => {
    const db = open();
    const entries = sixEntries(db);
    expect(db.audit.query({ since: T0 + 1000, until: T0 + 3000 })).toEqual(entries.slice(1, 4));
    expect(db.audit.query({ since: T0 + 1001 })).toEqual(entries.slice(2));
    expect(db.audit.query({ until: T0 + 999 })).toEqual(entries.slice(0, 1));
    expect(db.audit.query({ since: new Date(T0 + 5000) })).toEqual(entries.slice(5));
    expect(db.audit.query({ since: "2024-01-02T01:31:02Z", until: "2024-01-02T01:31:02Z" })).toEqual([entries[2]!]);
    expect(db.audit.query({ since: T0 + 6000 })).toEqual([]);
  });

  test("actor and action filter exactly and combine with each other and the time range", () => {
    const db = open();
    const entries = sixEntries(db);
    expect(db.audit.query({ actor: "a" }).map((e) => e.id)).toEqual([1, 3, 5]);
    expect(db.audit.query({ action: "y" }).map((e) => e.id)).toEqual([3, 4, 6]);
    expect(db.audit.query({ actor: "b", action: "y" }).map((e) => e.id)).toEqual([4, 6]);
    expect(db.audit.query({ actor: "b", action: "y", since: T0 + 4000 })).toEqual([entries[5]!]);
    expect(db.audit.query({ actor: "A" })).toEqual([]);
    expect(db.audit.query({ action: "x%" })).toEqual([]);
  });

  test("limit keeps the lowest ids of what matches", () => {
    const db = open();
    const entries = sixEntries(db);
    expect(db.audit.query({ limit: 2 })).toEqual(entries.slice(0, 2));
    expect(db.audit.query({ action: "y", limit: 2 }).map((e) => e.id)).toEqual([3, 4]);
    expect(db.audit.query({ limit: 100 })).toEqual(entries);
  });

  test("results are ordered by id even when the clock went backwards between appends", () => {
    const db = open();
    for (const [i, at] of [T0 + 5000, T0 + 1000, T0 + 3000].entries()) {
      setSystemTime(new Date(at));
      db.audit.append({ actor: "a", action: "x", details: { i } });
    }
    expect(db.audit.query().map((e) => e.id)).toEqual([1, 2, 3]);
    expect(db.audit.query({ since: T0 + 2000 }).map((e) => e.id)).toEqual([1, 3]);
    expect(db.audit.verify()).toEqual({ ok: true, checked: 3 });
  });

  test("unknown options, a bad limit and non-string actor or action are ValidationErrors naming the field", () => {
    const db = open();
    db.audit.append({ actor: "a", action: "x" });
    const fields = (query: unknown) => validationIssues(() => db.audit.query(query as never)).map((issue) => issue.field);
    expect(fields({ from: T0 })).toEqual(["from"]);
    expect(fields({ start: T0 })).toEqual(["start"]);
    for (const limit of [0, -1, 1.5, NaN, Infinity, "10"]) expect(fields({ limit })).toEqual(["limit"]);
    expect(fields({ actor: 42 })).toEqual(["actor"]);
    expect(fields({ actor: null })).toEqual(["actor"]);
    expect(fields({ action: ["x"] })).toEqual(["action"]);
    expect(fields({ since: "not a time" })).toHaveLength(1);
    expect(fields({ until: {} })).toHaveLength(1);
    expect(fields({ since: T0 + 1, until: T0 })).toHaveLength(1);
    expect(fields({ actor: 1, limit: 0, extra: true }).sort()).toEqual(["actor", "extra", "limit"]);
    expect(validationIssues(() => db.audit.query(null as never))).toHaveLength(1);
  });

  test("a bad since or until is a ValidationError naming since or until", () => {
    const db = open();
    const fields = (query: unknown) => validationIssues(() => db.audit.query(query as never)).map((issue) => issue.field);
    expect(fields({ since: "not a time" })).toEqual(["since"]);
    expect(fields({ until: "not a time" })).toEqual(["until"]);
  });
});

describe("audit log: append refuses bad input and appends nothing", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  class Position {
    symbol = "600519";
  }
  const refused: Array<[string, unknown, string]> = [
    ["an empty actor", { actor: "", action: "x" }, "actor"],
    ["a missing actor", { action: "x" }, "actor"],
    ["a non-string actor", { actor: 7, action: "x" }, "actor"],
    ["an actor starting with whitespace", { actor: " a", action: "x" }, "actor"],
    ["an actor over 128 characters", { actor: "a".repeat(129), action: "x" }, "actor"],
    ["an actor with a control character", { actor: "a\nb", action: "x" }, "actor"],
    ["an empty action", { actor: "a", action: "" }, "action"],
    ["a non-string entity", { actor: "a", action: "x", entity: 5 }, "entity"],
    ["an entity over 256 characters", { actor: "a", action: "x", entity: "e".repeat(257) }, "entity"],
    ["NaN in details", { actor: "a", action: "x", details: { price: NaN } }, "details.price"],
    ["Infinity in details", { actor: "a", action: "x", details: [1, Infinity] }, "details[1]"],
    ["a Date in details", { actor: "a", action: "x", details: { at: new Date(T0) } }, "details.at"],
    ["a Map as details", { actor: "a", action: "x", details: new Map([["k", 1]]) }, "details"],
    ["a Set in details", { actor: "a", action: "x", details: { s: new Set([1]) } }, "details.s"],
    ["a class instance in details", { actor: "a", action: "x", details: { p: new Position() } }, "details.p"],
    ["a function in details", { actor: "a", action: "x", details: { f: () => 1 } }, "details.f"],
    ["undefined inside details", { actor: "a", action: "x", details: { u: undefined } }, "details.u"],
    ["a bigint in details", { actor: "a", action: "x", details: { n: 1n } }, "details.n"],
    ["cyclic details", { actor: "a", action: "x", details: cyclic }, "details.self"],
    ["details over 16 KiB as JSON", { actor: "a", action: "x", details: { s: "x".repeat(16 * 1024) } }, "details"],
  ];

  for (const [what, input, field] of refused) {
    test(`${what} is a ValidationError on ${field}`, () => {
      const path = newPath();
      const db = openDatabase({ path, auditRollupMs: PER_CALL });
      opened.push(db);
      const issues = validationIssues(() => db.audit.append(input as never));
      expect(issues.map((issue) => issue.field)).toContain(field);
      expect(rowCount(path)).toBe(0);
      // Nothing half-appended: the next good entry is still the chain's first.
      const next = db.audit.append({ actor: "a", action: "x" });
      expect(next.id).toBe(1);
      expect(next.prev_hash).toBe(GENESIS_HASH);
    });
  }

  test("a non-object input is a ValidationError", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    for (const input of [null, undefined, "a", 42]) validationIssues(() => db.audit.append(input as never));
    expect(rowCount(path)).toBe(0);
  });

  test("details of exactly 16 KiB as JSON are accepted; one more byte is refused", () => {
    const db = open();
    // {"s":"..."} is the string plus 8 characters.
    const atCap = db.audit.append({ actor: "a", action: "x", details: { s: "x".repeat(16 * 1024 - 8) } });
    expect(atCap.id).toBe(1);
    validationIssues(() => db.audit.append({ actor: "a", action: "x", details: { s: "x".repeat(16 * 1024 - 7) } }));
    expect(db.audit.query()).toHaveLength(1);
  });

  test("every problem of one input is reported together", () => {
    const db = open();
    const issues = validationIssues(() => db.audit.append({ actor: "", action: "", details: { a: NaN, b: new Date() } } as never));
    expect(issues.map((issue) => issue.field).sort()).toEqual(["action", "actor", "details.a", "details.b"]);
  });

  test("the 16 KiB cap on details counts UTF-8 bytes, so 6,000 CJK characters (18,000 bytes) are refused", () => {
    const db = open();
    validationIssues(() => db.audit.append({ actor: "a", action: "x", details: { s: "贵".repeat(6_000) } }));
  });

  test("an entity that cannot be stored as UTF-8 (a lone surrogate) is refused rather than breaking verify()", () => {
    const db = open();
    let refused = false;
    try {
      db.audit.append({ actor: "a", action: "x", entity: "600519\ud800" });
    } catch (error) {
      refused = error instanceof ValidationError;
    }
    expect(refused || db.audit.verify().ok).toBe(true);
    expect(refused).toBe(true);
  });
});

describe("audit log: append-only", () => {
  test("UPDATE and DELETE through a raw connection fail with the trigger's error and change nothing", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 3);
    const before = db.audit.query();
    const client = raw(path);
    expect(() => client.run("UPDATE audit_log SET details = '{\"n\":99}' WHERE id = 2")).toThrow("audit_log is append-only");
    expect(() => client.run("UPDATE audit_log SET actor = 'mallory'")).toThrow("audit_log is append-only");
    expect(() => client.run("DELETE FROM audit_log WHERE id = 2")).toThrow("audit_log is append-only");
    expect(() => client.run("DELETE FROM audit_log")).toThrow("audit_log is append-only");
    expect(db.audit.query()).toEqual(before);
    expect(db.audit.verify()).toEqual({ ok: true, checked: 3 });
  });

  test("an intact chain verifies, and an empty log verifies with nothing checked", () => {
    const db = open();
    expect(db.audit.verify()).toEqual({ ok: true, checked: 0 });
    appendMany(db, 10);
    expect(db.audit.verify()).toEqual({ ok: true, checked: 10 });
  });

  test("a middle row's details rewritten with the triggers dropped is reported at that id", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 10);
    rawWithoutTriggers(path).run("UPDATE audit_log SET details = '{\"n\":400}' WHERE id = 4");
    expect(db.audit.verify()).toEqual({ ok: false, checked: 4, firstBadId: 4 });
  });

  for (const [column, value] of [
    ["timestamp", T0],
    ["actor", "mallory"],
    ["action", "other"],
    ["entity", "e999"],
    ["entity", null],
    ["prev_hash", "f".repeat(64)],
    ["hash", "0".repeat(64)],
  ] as const) {
    test(`a middle row's ${column} rewritten to ${JSON.stringify(value)} is reported at that id`, () => {
      const path = newPath();
      const db = openDatabase({ path, auditRollupMs: PER_CALL });
      opened.push(db);
      appendMany(db, 10);
      rawWithoutTriggers(path).run(`UPDATE audit_log SET ${column} = ? WHERE id = 6`, [value]);
      expect(db.audit.verify()).toEqual({ ok: false, checked: 6, firstBadId: 6 });
    });
  }

  test("a deleted middle row is reported at the id after it", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 10);
    rawWithoutTriggers(path).run("DELETE FROM audit_log WHERE id = 5");
    expect(db.audit.verify()).toEqual({ ok: false, checked: 5, firstBadId: 6 });
  });

  test("a row rewritten with its hash recomputed is reported at the following row, whose prev_hash no longer links", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 10);
    const target = db.audit.query()[6]!; // id 7
    const forged = { ...target, details: { n: 7_000 } };
    const forgedHash = expectedHash(target.prev_hash, forged);
    rawWithoutTriggers(path).run("UPDATE audit_log SET details = ?, hash = ? WHERE id = 7", [JSON.stringify(forged.details), forgedHash]);
    expect(db.audit.verify()).toEqual({ ok: false, checked: 8, firstBadId: 8 });
  });

  test("a deleted row with every later hash recomputed still shows, as the gap in the ids, at the id after it", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 10);
    const entries = db.audit.query();
    const client = rawWithoutTriggers(path);
    client.run("DELETE FROM audit_log WHERE id = 5");
    let prevHash = entries[3]!.hash;
    for (const entry of entries.slice(5)) {
      const hash = expectedHash(prevHash, entry);
      client.run("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", [prevHash, hash, entry.id]);
      prevHash = hash;
    }
    expect(db.audit.verify()).toEqual({ ok: false, checked: 5, firstBadId: 6 });
  });

  test("a forged row inserted at the end with a wrong hash is reported at its id (INSERT needs no dropped trigger)", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 3);
    const last = db.audit.query()[2]!;
    raw(path).run(
      "INSERT INTO audit_log (id, timestamp, actor, action, entity, details, prev_hash, hash) VALUES (4, ?, 'mallory', 'x', NULL, 'null', ?, ?)",
      [T0, last.hash, "a".repeat(64)],
    );
    expect(db.audit.verify()).toEqual({ ok: false, checked: 4, firstBadId: 4 });
  });

  test("verify checks 20,000 entries across pages and finds tampering past the first page boundary", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 20_000);
    expect(db.audit.verify()).toEqual({ ok: true, checked: 20_000 });

    // The last row of the first page, rewritten with a correct hash of its own: only the link
    // carried into the second page (row 8,193's prev_hash) shows it.
    const client = rawWithoutTriggers(path);
    const target = db.audit.query({ limit: PAGE_ROWS }).at(-1)!;
    expect(target.id).toBe(PAGE_ROWS);
    const forged = { ...target, actor: "mallory" };
    client.run("UPDATE audit_log SET actor = ?, hash = ? WHERE id = ?", ["mallory", expectedHash(target.prev_hash, forged), PAGE_ROWS]);
    expect(db.audit.verify()).toEqual({ ok: false, checked: PAGE_ROWS + 1, firstBadId: PAGE_ROWS + 1 });
  });

  test("a rewrite on the third page of a 20,000-entry chain is reported at its id", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 20_000);
    rawWithoutTriggers(path).run("UPDATE audit_log SET details = '{\"n\":0}' WHERE id = 19999");
    expect(db.audit.verify()).toEqual({ ok: false, checked: 19_999, firstBadId: 19_999 });
  });

  test("a details column rewritten to text that is not JSON is reported at that id, not thrown", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    appendMany(db, 5);
    rawWithoutTriggers(path).run("UPDATE audit_log SET details = 'not json' WHERE id = 3");
    expect(db.audit.verify()).toEqual({ ok: false, checked: 3, firstBadId: 3 });
  });
});

describe("audit log: Python's hashlib recomputes the chain (a second implementation)", () => {
  /** Recomputes every hash from the table with Python's json and hashlib; prints the ids that disagree. */
  const RECOMPUTE_PY = `
import hashlib, json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
prev = "0" * 64
out = {"checked": 0, "bad": [], "hashes": []}
rows = conn.execute("SELECT id, timestamp, actor, action, entity, details, prev_hash, hash FROM audit_log ORDER BY id")
for id_, timestamp, actor, action, entity, details, prev_hash, stored in rows:
    body = json.dumps(
        {"id": id_, "timestamp": timestamp, "actor": actor, "action": action, "entity": entity, "details": json.loads(details)},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    computed = hashlib.sha256((prev + "\\n" + body).encode("utf-8")).hexdigest()
    if prev_hash != prev or computed != stored:
        out["bad"].append(id_)
    out["hashes"].append(computed)
    out["checked"] += 1
    prev = stored
print(json.dumps(out))
`;

  interface Recomputed {
    checked: number;
    bad: number[];
    hashes: string[];
  }

  test("agrees with every stored hash, non-ASCII text, nesting, arrays, booleans, null and integers included", async () => {
    const path = newPath();
    const db = openDatabase({ path, actor: "录入程序", auditRollupMs: PER_CALL });
    opened.push(db);
    const appended = [
      db.audit.append({ actor: "alice", action: "login" }),
      db.audit.append({ actor: "交易员", action: "watchlist.add", entity: "贵州茅台", details: { name: "贵州茅台", code: "600519" } }),
      db.audit.append({
        actor: "bob",
        action: "order.submit",
        entity: "600519.SH",
        details: {
          zeta: { b: [1, -2, 0, 9_007_199_254_740_991, -9_007_199_254_740_991], a: { deep: { deeper: [true, false, null] } } },
          alpha: [],
          empty: {},
          text: "a \"quoted\" \\ back/slash\nnew\tline\u0001\u001f \u007f \u2028\u2029 😀 ü é",
          Upper: "sorted before lowercase",
          "贵州茅台": { "股票": "白酒", n: 1 },
          yes: true,
          no: false,
          nothing: null,
        },
      }),
      db.audit.append({ actor: "carol", action: "note", details: ["x", ["y", ["z"]], { k: "v" }] }),
      db.audit.append({ actor: "dave", action: "count", details: 42 }),
      db.audit.append({ actor: "erin", action: "label", details: "plain string" }),
    ];
    // The store's own entries, with ranges (epoch-ms integers), join the same chain.
    db.insertBars("600519", minuteBars(50));
    db.deleteBars("600519", { start: T0, end: T0 + 9 * MINUTE });
    db.prefs.set("显示.主题", { 颜色: "暗", size: 12 });
    db.prefs.delete("显示.主题");
    const stored = db.audit.query();
    expect(stored).toHaveLength(appended.length + 4);

    const python = await runPython<Recomputed>(RECOMPUTE_PY, [path]);
    expect(python.checked).toBe(stored.length);
    expect(python.bad).toEqual([]);
    expect(python.hashes).toEqual(stored.map((entry) => entry.hash));
    expect(db.audit.verify()).toEqual({ ok: true, checked: stored.length });
  });

  test("agrees with the chain after close (the WAL folded back) and disagrees at the row a raw client rewrote", async () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    appendMany(db, 100);
    db.close();
    expect(await runPython<Recomputed>(RECOMPUTE_PY, [path])).toMatchObject({ checked: 100, bad: [] });
    const client = rawWithoutTriggers(path);
    client.run("UPDATE audit_log SET entity = 'e-forged' WHERE id = 42");
    client.close();
    const python = await runPython<Recomputed>(RECOMPUTE_PY, [path]);
    expect(python.bad[0]).toBe(42);
  });

  test("agrees on details whose keys mix characters above U+FFFF with ones in U+E000..U+FFFF", async () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    db.audit.append({ actor: "a", action: "x", details: { "😀": 1, "！": 2 } });
    const python = await runPython<Recomputed>(RECOMPUTE_PY, [path]);
    expect(python.bad).toEqual([]);
  });
});

describe("audit log: every mutation through the store records counts and ranges", () => {
  test("insertBars records bars.insert with the symbol and { rows, start, end } over distinct timestamps", () => {
    const db = open();
    const bars = minuteBars(30);
    // Out of order, with one timestamp sent twice: start and end are the extremes, rows the distinct count.
    const sent = [...bars.slice(10), ...bars.slice(0, 10), { ...bars[5]!, close: bars[5]!.open }];
    setSystemTime(new Date(T0 + 3_600_000));
    expect(db.insertBars("600519", sent)).toBe(30);
    expect(db.audit.query()).toEqual([
      {
        id: 1,
        timestamp: T0 + 3_600_000,
        actor: "tradelite",
        action: "bars.insert",
        entity: "600519",
        details: { rows: 30, start: T0, end: T0 + 29 * MINUTE },
        prev_hash: GENESIS_HASH,
        hash: expect.any(String),
      },
    ]);
  });

  test("columnar insertBars records the same entry as objects", () => {
    const db = open();
    const bars = minuteBars(20, 3);
    db.insertBars("COL", {
      timestamp: Float64Array.from(bars, (b) => b.timestamp),
      open: bars.map((b) => b.open),
      high: bars.map((b) => b.high),
      low: bars.map((b) => b.low),
      close: bars.map((b) => b.close),
      volume: bars.map((b) => b.volume),
      amount: bars.map((b) => b.amount),
    });
    expect(db.audit.query()).toMatchObject([{ action: "bars.insert", entity: "COL", details: { rows: 20, start: T0, end: T0 + 19 * MINUTE } }]);
  });

  test("deleteBars records bars.delete with { deleted, start, end } of the range asked for", () => {
    const db = open();
    db.insertBars("600519", minuteBars(30));
    expect(db.deleteBars("600519", { start: T0 + 5 * MINUTE, end: T0 + 9 * MINUTE })).toBe(5);
    expect(db.deleteBars("000001", { start: "2024-01-02T09:31:00+08:00", end: new Date(T0 + MINUTE) })).toBe(0);
    const [, first, second] = db.audit.query();
    expect(first).toMatchObject({
      actor: "tradelite",
      action: "bars.delete",
      entity: "600519",
      details: { deleted: 5, start: T0 + 5 * MINUTE, end: T0 + 9 * MINUTE },
    });
    expect(second).toMatchObject({ action: "bars.delete", entity: "000001", details: { deleted: 0, start: T0, end: T0 + MINUTE } });
  });

  test("deleteBars without a range records the rows deleted and the whole span", () => {
    const db = open();
    db.insertBars("600519", minuteBars(12));
    expect(db.deleteBars("600519")).toBe(12);
    const entry = db.audit.query({ action: "bars.delete" })[0]!;
    expect(entry.details).toMatchObject({ deleted: 12 });
    const { start, end } = entry.details as { start: number; end: number };
    expect(start).toBeLessThanOrEqual(T0);
    expect(end).toBeGreaterThanOrEqual(T0 + 11 * MINUTE);
  });

  test("insertQuotes records quotes.insert with the symbol and { rows, start, end }", () => {
    const db = open();
    const quotes = [
      { timestamp: T0 + 2000, bid: 1700.5, bid_size: 100, ask: 1700.6, ask_size: 200, last: 1700.55, volume: 5000 },
      { timestamp: T0, bid: 1699.5, bid_size: 300, ask: 1699.6, ask_size: 400, last: 1699.55, volume: 4000 },
      { timestamp: T0 + 1000, bid: 1700.0, bid_size: 500, ask: 1700.1, ask_size: 600, last: 1700.05, volume: 4500 },
    ];
    expect(db.insertQuotes("600519", quotes)).toBe(3);
    expect(db.audit.query()).toMatchObject([
      { actor: "tradelite", action: "quotes.insert", entity: "600519", details: { rows: 3, start: T0, end: T0 + 2000 } },
    ]);
    expect(Object.keys(db.audit.query()[0]!.details as object).sort()).toEqual(["end", "rows", "start"]);
  });

  test("prefs.set records prefs.set with the key and the value's size, not the value", () => {
    const db = open();
    db.prefs.set("theme", { mode: "dark", accent: "#ff8800" });
    const value = JSON.stringify({ mode: "dark", accent: "#ff8800" });
    const entry = db.audit.query()[0]!;
    expect(entry).toMatchObject({ actor: "tradelite", action: "prefs.set", entity: "theme", details: { bytes: value.length } });
    expect(Object.keys(entry.details as object)).toEqual(["bytes"]);
    expect(JSON.stringify(entry)).not.toContain("#ff8800");
  });

  test("prefs.delete of an existing key records prefs.delete; of a missing key, nothing", () => {
    const db = open();
    db.prefs.set("theme", "dark");
    expect(db.prefs.delete("theme")).toBe(true);
    expect(db.prefs.delete("theme")).toBe(false);
    expect(db.prefs.delete("never-set")).toBe(false);
    expect(db.audit.query().map((e) => [e.action, e.entity, e.details])).toEqual([
      ["prefs.set", "theme", { bytes: 6 }],
      ["prefs.delete", "theme", null],
    ]);
  });

  test("inserts refused by validation append nothing", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    const bars = minuteBars(10);
    bars[4] = { ...bars[4]!, high: bars[4]!.low! - 1 };
    validationIssues(() => db.insertBars("600519", bars));
    validationIssues(() => db.insertBars("not a symbol!", minuteBars(3)));
    validationIssues(() => db.insertQuotes("600519", [{ timestamp: T0, bid: 10, ask: 9 }]));
    validationIssues(() => db.prefs.set("theme", NaN));
    validationIssues(() => db.deleteBars("600519", { start: T0, stop: T0 } as never));
    expect(db.insertBars("600519", [])).toBe(0);
    expect(rowCount(path)).toBe(0);
    expect(db.getBars("600519")).toEqual([]);
  });

  test("a write SQLite rolls back (a raw client's trigger RAISEs) appends nothing", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    db.insertBars("600519", minuteBars(5));
    const client = raw(path);
    client.exec(`
      CREATE TRIGGER refuse_bars BEFORE INSERT ON market_data BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
      CREATE TRIGGER refuse_quotes BEFORE INSERT ON quotes BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
      CREATE TRIGGER refuse_prefs BEFORE INSERT ON user_preferences BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
      CREATE TRIGGER refuse_bar_deletes BEFORE DELETE ON market_data BEGIN SELECT RAISE(ABORT, 'refused by test'); END;
    `);
    const attempts: Array<() => unknown> = [
      () => db.insertBars("600519", minuteBars(5, 2, T0 + 60 * MINUTE)),
      () => db.insertQuotes("600519", [{ timestamp: T0, bid: 9, ask: 10 }]),
      () => db.prefs.set("theme", "dark"),
      () => db.deleteBars("600519"),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(StorageError);
      expect(attempt).toThrow("refused by test");
    }
    expect(db.audit.query().map((e) => e.action)).toEqual(["bars.insert"]);
    expect(db.getBars("600519")).toHaveLength(5);
    expect(db.audit.verify()).toEqual({ ok: true, checked: 1 });
  });

  test("when the entry cannot be appended the mutation rolls back with it", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    raw(path).exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END;");
    expect(() => db.insertBars("600519", minuteBars(5))).toThrow("audit refused");
    expect(() => db.prefs.set("theme", "dark")).toThrow("audit refused");
    expect(db.getBars("600519")).toEqual([]);
    expect(db.prefs.get("theme")).toBeNull();
  });

  test("mutations inside a db.transaction that throws leave no entries", () => {
    const path = newPath();
    const db = openDatabase({ path, auditRollupMs: PER_CALL });
    opened.push(db);
    expect(() =>
      db.transaction(() => {
        db.insertBars("600519", minuteBars(5));
        db.prefs.set("theme", "dark");
        db.audit.append({ actor: "alice", action: "note" });
        throw new Error("abandon");
      }),
    ).toThrow("abandon");
    expect(rowCount(path)).toBe(0);
    expect(db.audit.append({ actor: "a", action: "x" }).id).toBe(1);
  });

  test("entries name the Database's actor option, tradelite by default; an explicit append keeps its own actor", () => {
    const custom = open({ actor: "recorder-1" });
    custom.insertBars("600519", minuteBars(3));
    custom.prefs.set("theme", "dark");
    custom.audit.append({ actor: "alice", action: "note" });
    expect(custom.audit.query().map((e) => e.actor)).toEqual(["recorder-1", "recorder-1", "alice"]);
    expect(custom.audit.query({ actor: "recorder-1" })).toHaveLength(2);

    const plain = open();
    plain.insertQuotes("600519", [{ timestamp: T0, bid: 9, ask: 10 }]);
    expect(plain.audit.query()[0]!.actor).toBe("tradelite");
    expect(() => open({ actor: "" })).toThrow(ValidationError);
  });

  test("no bar or quote value appears anywhere in the entries, however many rows are written", () => {
    const db = open();
    const bars = minuteBars(5_000, 11, T0);
    db.insertBars("600519", bars);
    db.insertBars("000001", minuteBars(2_000, 12, T0).map((bar) => ({ ...bar, open: bar.open! + 0.01, high: bar.high! + 0.01 })));
    db.deleteBars("600519", { start: bars[100]!.timestamp, end: bars[199]!.timestamp });
    const quotes = Array.from({ length: 50 }, (_, i) => ({ timestamp: T0 + i * 3000, bid: 1700.13 + i, ask: 1700.17 + i, last: 1700.15 + i }));
    db.insertQuotes("600519", quotes);

    const values = new Set<number>();
    for (const bar of bars) for (const v of [bar.open, bar.high, bar.low, bar.close, bar.volume, bar.amount]) if (v !== null) values.add(v);
    for (const quote of quotes) for (const v of [quote.bid, quote.ask, quote.last]) values.add(v);
    const numbers: number[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === "number") numbers.push(value);
      else if (value !== null && typeof value === "object") Object.values(value).forEach(collect);
    };
    const entries = db.audit.query();
    expect(entries.map((e) => e.action)).toEqual(["bars.insert", "bars.insert", "bars.delete", "quotes.insert"]);
    for (const entry of entries) {
      collect(entry.details);
      // Counts and ranges: a handful of numbers, never a payload growing with the rows.
      expect(JSON.stringify(entry.details).length).toBeLessThan(100);
      for (const value of Object.values(entry.details as object)) expect(Number.isSafeInteger(value)).toBe(true);
    }
    expect(numbers.filter((n) => values.has(n) && !Number.isInteger(n))).toEqual([]);
    const text = JSON.stringify(entries.map((e) => e.details));
    const prices = [...bars.slice(1).flatMap((bar) => [bar.open!, bar.close!]), quotes[0]!.bid].filter((price) => !Number.isInteger(price));
    expect(prices.length).toBeGreaterThan(1_000);
    for (const price of prices.slice(0, 1_000)) expect(text).not.toContain(String(price));
  });

  test("a mix of store mutations and explicit appends forms one chain that verifies", () => {
    const db = open();
    db.insertBars("600519", minuteBars(10));
    db.audit.append({ actor: "alice", action: "note", details: { why: "manual" } });
    db.prefs.set("k", [1, 2, 3]);
    db.insertQuotes("600519", [{ timestamp: T0, bid: 9, ask: 10 }]);
    db.deleteBars("600519", { end: T0 + 2 * MINUTE });
    db.prefs.delete("k");
    const entries = db.audit.query();
    expect(entries.map((e) => e.action)).toEqual(["bars.insert", "note", "prefs.set", "quotes.insert", "bars.delete", "prefs.delete"]);
    let prevHash = GENESIS_HASH;
    for (const entry of entries) {
      expect(entry.hash).toBe(expectedHash(prevHash, entry));
      prevHash = entry.hash;
    }
    expect(db.audit.verify()).toEqual({ ok: true, checked: 6 });
  });
});

describe("audit log: through the Store interface", () => {
  async function openSqliteStore(path: string, actor?: string): Promise<Store> {
    const store = await openStore({ backend: "sqlite", path, auditRollupMs: PER_CALL, ...(actor ? { actor } : {}) });
    opened.push(store);
    return store;
  }

  test("store.audit.append, query and verify behave as the Database's", async () => {
    const store = await openSqliteStore(newPath());
    setSystemTime(new Date(T0));
    const first = await store.audit.append({ actor: "alice", action: "login" });
    setSystemTime(new Date(T0 + 1000));
    const second = await store.audit.append({ actor: "bob", action: "note", entity: "贵州茅台", details: { b: [1, { a: true }] } });
    expect(first).toMatchObject({ id: 1, timestamp: T0, prev_hash: GENESIS_HASH });
    expect(first.hash).toBe(expectedHash(GENESIS_HASH, first));
    expect(second.prev_hash).toBe(first.hash);
    expect(second.hash).toBe(expectedHash(first.hash, second));
    expect(await store.audit.query()).toEqual([first, second]);
    expect(await store.audit.query({ since: T0 + 1 })).toEqual([second]);
    expect(await store.audit.query({ actor: "alice", limit: 1 })).toEqual([first]);
    expect(await store.audit.verify()).toEqual({ ok: true, checked: 2 });
  });

  test("the Store rejects bad input with ValidationError and appends nothing", async () => {
    const store = await openSqliteStore(newPath());
    expect(await rejection(store.audit.append({ actor: "", action: "x" }))).toBeInstanceOf(ValidationError);
    expect(await rejection(store.audit.append({ actor: "a", action: "x", details: { n: NaN } }))).toBeInstanceOf(ValidationError);
    expect(await rejection(store.audit.query({ limit: 0 }))).toBeInstanceOf(ValidationError);
    expect(await rejection(store.audit.query({ who: "a" } as never))).toBeInstanceOf(ValidationError);
    expect(await store.audit.query()).toEqual([]);
  });

  test("the Store's mutations are recorded under its actor and tampering is reported by store.audit.verify()", async () => {
    const path = newPath();
    const store = await openSqliteStore(path, "store-actor");
    await store.insertBars("600519", minuteBars(10));
    await store.insertQuotes("600519", [{ timestamp: T0, bid: 9, ask: 10 }]);
    await store.prefs.set("theme", "dark");
    await store.prefs.delete("theme");
    await store.prefs.delete("theme");
    await store.deleteBars("600519", { start: T0, end: T0 + MINUTE });
    const entries = await store.audit.query();
    expect(entries.map((e) => [e.actor, e.action, e.entity, e.details])).toEqual([
      ["store-actor", "bars.insert", "600519", { rows: 10, start: T0, end: T0 + 9 * MINUTE }],
      ["store-actor", "quotes.insert", "600519", { rows: 1, start: T0, end: T0 }],
      ["store-actor", "prefs.set", "theme", { bytes: 6 }],
      ["store-actor", "prefs.delete", "theme", null],
      ["store-actor", "bars.delete", "600519", { deleted: 2, start: T0, end: T0 + MINUTE }],
    ]);
    expect(await store.audit.verify()).toEqual({ ok: true, checked: 5 });
    rawWithoutTriggers(path).run("DELETE FROM audit_log WHERE id = 3");
    expect(await store.audit.verify()).toEqual({ ok: false, checked: 3, firstBadId: 4 });
  });
});

describe("audit log: rewrites the chain alone cannot show", () => {
  test("details rewritten with a duplicate key (read one way by SQLite, another by JSON.parse) fail verify()", () => {
    const db = openDatabase({ path: newPath(), auditRollupMs: PER_CALL });
    opened.push(db);
    db.audit.append({ actor: "a", action: "order", details: { qty: 100 } });
    db.audit.append({ actor: "a", action: "order", details: { qty: 5 } });
    db.close();
    const raw = new RawDatabase(db.path);
    raw.run("DROP TRIGGER audit_log_no_update");
    raw.run(`UPDATE audit_log SET details = '{"qty":999999,"qty":100}' WHERE id = 1`);
    raw.close();
    const reopened = openDatabase({ path: db.path });
    opened.push(reopened);
    expect(reopened.audit.verify()).toEqual({ ok: false, checked: 1, firstBadId: 1 });
  });

  test("deleting the newest entries is caught when verify() is given an earlier head", () => {
    const db = openDatabase({ path: newPath(), auditRollupMs: PER_CALL });
    opened.push(db);
    for (let i = 0; i < 3; i++) db.audit.append({ actor: "a", action: "note", details: { i } });
    const head = db.audit.head()!;
    expect(head.id).toBe(3);
    db.close();
    const raw = new RawDatabase(db.path);
    raw.run("DROP TRIGGER audit_log_no_delete");
    raw.run("DELETE FROM audit_log WHERE id = 3");
    raw.close();
    const reopened = openDatabase({ path: db.path });
    opened.push(reopened);
    expect(reopened.audit.verify()).toEqual({ ok: true, checked: 2 });
    expect(reopened.audit.verify({ head })).toEqual({ ok: false, checked: 2, firstBadId: 3 });
    expect(() => reopened.audit.verify({ head: { id: "3" } as never })).toThrow(ValidationError);
  });
});
