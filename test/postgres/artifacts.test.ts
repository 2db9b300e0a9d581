/**
 * Model artifacts on PostgreSQL (src/postgres/artifacts.ts) against SQLite's: the same
 * registrations, reads, conflicts and audit entries.
 *
 * Each test runs the same calls on a SQLite database in memory and on a PostgreSQL database of its
 * own, with the clock stopped at the same instant for both (setSystemTime), so timestamps and the
 * audit hashes that cover them must be identical too.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { tempDir } from "../support/files.ts";
import { type Records, available, cleanups, closeRecordTests, pair, both, valueOf, errorOf, expectSameAuditLog, T0 } from "../support/postgres-records.ts";

afterEach(closeRecordTests);

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
