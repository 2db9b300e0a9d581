/**
 * The audit log's grain on every backend (src/domain/audit-rollup.ts): live appends roll up per
 * symbol into one entry carrying counts, range and the stored bars' digest; operator batches
 * keep an entry each; verifyRollups() re-digests and says what explains a change.
 */
import { expect, test } from "bun:test";
import { barsDigest, ValidationError, type Bar, type Store } from "../../src/mod.ts";
import { randomBars } from "./bars.ts";
import type { StoreFactory } from "./conformance.ts";
import type { Reopen } from "./settings-conformance.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 2, 1, 31);

function minuteBars(count: number, seed = 1, start = T0): Bar[] {
  return randomBars(Array.from({ length: count }, (_, i) => start + i * MINUTE), seed);
}

/** One-bar writes, as a recorder makes them, of `count` minutes from `start`. */
async function recordMinutes(store: Store, symbol: string, count: number, start = T0): Promise<void> {
  for (const bar of minuteBars(count, 7, start)) await store.insertBars(symbol, [bar]);
}

export function auditRollupConformance(fresh: StoreFactory, reopen?: Reopen): void {
  test("audit rollups: one-bar writes grow one pending rollup per symbol; rollUp() closes each into one bars.rollup entry with the stored bars' digest", async () => {
    const store = await fresh();
    await recordMinutes(store, "S", 3);
    await store.insertBars("T", minuteBars(2, 3));
    expect((await store.audit.query()).filter((entry) => entry.action.startsWith("bars."))).toEqual([]);
    expect(await store.audit.verifyRollups()).toEqual({ ok: true, checked: 0, pending: 2, mismatches: [] });

    expect(await store.audit.rollUp({ symbol: "S" })).toBe(1);
    expect(await store.audit.rollUp()).toBe(1);
    expect(await store.audit.rollUp()).toBe(0);
    const rollups = await store.audit.query({ action: "bars.rollup" });
    expect(rollups.map((entry) => [entry.entity, entry.actor])).toEqual([["S", "tradelite"], ["T", "tradelite"]]);
    expect(rollups[0]!.details).toMatchObject({ rows: 3, batches: 3, start: T0, end: T0 + 2 * MINUTE, ...barsDigest(await store.getBars("S")) });
    expect(rollups[1]!.details).toMatchObject({ rows: 2, batches: 1, start: T0, end: T0 + MINUTE, ...barsDigest(await store.getBars("T")) });
    expect(await store.audit.verify()).toEqual({ ok: true, checked: 2 });
    expect(await store.audit.verifyRollups()).toEqual({ ok: true, checked: 2, pending: 0, mismatches: [] });
  });

  test("audit rollups: a batch over 240 bars, or one asking audit: \"entry\", is an entry of its own; audit: \"rollup\" rolls any size up", async () => {
    const store = await fresh();
    await store.insertBars("S", minuteBars(241));
    await store.insertBars("S", minuteBars(2, 2, T0 + 1_000 * MINUTE), { audit: "entry" });
    await store.insertBars("S", minuteBars(300, 3, T0 + 2_000 * MINUTE), { audit: "rollup" });
    const entries = await store.audit.query();
    expect(entries.map((entry) => [entry.action, (entry.details as { rows: number }).rows])).toEqual([["bars.insert", 241], ["bars.insert", 2]]);
    expect((await store.audit.verifyRollups()).pending).toBe(1);
    // Settled by then(), not expect().rejects: that form hung on the worker store with reads on the writer (Bun 1.4.5).
    const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
    expect(await refusal(store.insertBars("S", minuteBars(1), { audit: "sometimes" as never }))).toBeInstanceOf(ValidationError);
    expect(await refusal(store.audit.rollUp({ symbol: 600519 } as never))).toBeInstanceOf(ValidationError);
    expect(await refusal(store.audit.rollUp({ symbols: ["S"] } as never))).toBeInstanceOf(ValidationError);
  });

  test("audit rollups: a later correction is named as what changed a rollup's bars; an append by another actor closes the open rollup under its own", async () => {
    const store = await fresh();
    await recordMinutes(store, "S", 4);
    await store.audit.rollUp();
    const corrected = { ...minuteBars(1, 99, T0 + MINUTE)[0]! };
    await store.withActor("ops").insertBars("S", [corrected]);
    // The first rollup closed at the correction's append, by ops, which is pending now.
    let check = await store.audit.verifyRollups();
    expect(check).toMatchObject({ ok: true, checked: 1, pending: 1 });
    expect(check.mismatches).toEqual([expect.objectContaining({ symbol: "S", start: T0, end: T0 + 3 * MINUTE, changedBy: "pending" })]);
    await store.audit.rollUp();
    const [first, second] = await store.audit.query({ action: "bars.rollup" });
    expect([first!.actor, second!.actor]).toEqual(["tradelite", "ops"]);
    expect(second!.details).toMatchObject({ rows: 1, batches: 1, start: T0 + MINUTE, end: T0 + MINUTE, stored: 1 });
    check = await store.audit.verifyRollups();
    expect(check).toMatchObject({ ok: true, checked: 2, pending: 0 });
    expect(check.mismatches.map((each) => [each.id, each.changedBy])).toEqual([[first!.id, second!.id]]);
  });

  test("audit rollups: with auditRollupMs 0 every insertBars is its own bars.insert entry, as before rollups", async () => {
    const store = await fresh({ auditRollupMs: 0 });
    await recordMinutes(store, "S", 3);
    expect((await store.audit.query()).map((entry) => entry.action)).toEqual(["bars.insert", "bars.insert", "bars.insert"]);
    expect(await store.audit.verifyRollups()).toEqual({ ok: true, checked: 0, pending: 0, mismatches: [] });
  });

  test("audit rollups: a rollup open for auditRollupMs closes at the symbol's next append, with it", async () => {
    const store = await fresh({ auditRollupMs: 1 });
    await store.insertBars("S", minuteBars(1));
    await Bun.sleep(5);
    await store.insertBars("S", minuteBars(1, 2, T0 + MINUTE));
    const [rollup] = await store.audit.query({ action: "bars.rollup" });
    expect(rollup!.details).toMatchObject({ rows: 2, batches: 2, start: T0, end: T0 + MINUTE, ...barsDigest(await store.getBars("S")) });
    expect((await store.audit.verifyRollups()).pending).toBe(0);
  });

  test("audit rollups: rollUp({ due: true }) closes only the rollups open for auditRollupMs, of every symbol or the one named", async () => {
    const store = await fresh({ auditRollupMs: 600 });
    await recordMinutes(store, "OLD", 2);
    await store.insertBars("OTHER", minuteBars(1, 4));
    await Bun.sleep(650);
    await store.insertBars("NEW", minuteBars(1, 5));
    expect(await store.audit.rollUp({ symbol: "NEW", due: true })).toBe(0);
    expect(await store.audit.rollUp({ symbol: "OLD", due: true })).toBe(1);
    expect(await store.audit.rollUp({ due: true })).toBe(1);
    expect((await store.audit.query({ action: "bars.rollup" })).map((entry) => [entry.entity, (entry.details as { rows: number }).rows])).toEqual([["OLD", 2], ["OTHER", 1]]);
    expect(await store.audit.verifyRollups()).toEqual({ ok: true, checked: 2, pending: 1, mismatches: [] });
    const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
    expect(await refusal(store.audit.rollUp({ due: "yes" } as never))).toBeInstanceOf(ValidationError);
    expect((await store.audit.verifyRollups()).pending).toBe(1);
  });

  if (reopen) {
    test("audit rollups: a rollup left open survives closing; a store opened after its interval closes it into an entry", async () => {
      const store = await fresh();
      await recordMinutes(store, "S", 5);
      await store.close();
      // Opened within the interval: still pending, nothing lost.
      const again = await reopen(store);
      expect(await again.audit.verifyRollups()).toEqual({ ok: true, checked: 0, pending: 1, mismatches: [] });
      await again.close();
      await Bun.sleep(5);
      const later = await reopen(store, { auditRollupMs: 1 });
      const rollups = await later.audit.query({ action: "bars.rollup" });
      expect(rollups.map((entry) => entry.details)).toEqual([expect.objectContaining({ rows: 5, batches: 5, stored: 5 })]);
      expect(await later.audit.verifyRollups()).toEqual({ ok: true, checked: 1, pending: 0, mismatches: [] });
      await later.close();
    });
  }
}
