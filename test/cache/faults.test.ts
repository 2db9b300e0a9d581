/**
 * Faults that cannot be caused for real on this machine (an I/O error after a rename succeeded),
 * injected by wrapping node:fs. Everything else about the cache is tested against real files.
 */
import { afterEach, expect, mock, test } from "bun:test";
import * as fs from "node:fs";
import { StorageError, type Bar } from "../../src/mod.ts";
import { randomBars } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";
import { expectMetadataTrue } from "../support/cache-invariants.ts";

const realRename = fs.renameSync;
let failRenames = 0;
mock.module("node:fs", () => ({
  ...fs,
  renameSync(from: fs.PathLike, to: fs.PathLike) {
    realRename(from, to);
    if (failRenames > 0) {
      failRenames--;
      throw Object.assign(new Error("EIO: i/o error, after rename"), { code: "EIO" });
    }
  },
}));

afterEach(() => {
  failRenames = 0;
  closeCacheFixtures();
});

const T0 = Date.UTC(2024, 0, 2, 1, 31);
const call = (id: number): Bar[] => randomBars(Array.from({ length: 5 }, (_, k) => T0 + (id * 5 + k) * 60_000), id + 1);

for (const writeThrough of [true, false]) {
  test(`a compaction failing after its rename loses no acknowledged bar (writeThrough ${writeThrough})`, async () => {
    const fx = openCacheFixture({ compactEvery: 3, writeThrough });
    await fx.cache.storeBars("S", call(0));
    await fx.cache.storeBars("S", call(1));
    failRenames = 1;
    const error = await fx.cache.storeBars("S", call(2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe("COMPACTION_FAILED");
    // The third call's bars were committed before the compaction began: they are stored.
    const next = fx.open({ compactEvery: 3, writeThrough });
    const stored = await next.cache.getBars("S");
    expect(stored).toEqual([...call(0), ...call(1), ...call(2)]);
    await expectMetadataTrue(next.cache, "S");
    await next.cache.storeBars("S", call(3));
    expect(await next.cache.getBars("S")).toEqual([...call(0), ...call(1), ...call(2), ...call(3)]);
    await expectMetadataTrue(next.cache, "S");
  });
}
