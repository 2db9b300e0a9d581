/**
 * /v1/maintenance (src/api/maintenance.ts): checkpoint, optimize, vacuum, backups into the backup
 * folder only, stats and integrity
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createApp, defaultBackupDir } from "../../src/api/app.ts";
import { openDatabase } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";
import { expectSameBars } from "../support/cache-invariants.ts";
import { T0, MIN } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("/v1/maintenance", () => {
  test("checkpoint (TRUNCATE) empties the WAL", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 50));
    const answer = await call(f.app, "POST", "/v1/maintenance/checkpoint?mode=TRUNCATE");
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ mode: "TRUNCATE", busy: false });
    expect(statSync(`${f.dbPath}-wal`).size).toBe(0);
    const passive = await call(f.app, "POST", "/v1/maintenance/checkpoint");
    expect(passive.body.mode).toBe("PASSIVE");
  });

  test("optimize and vacuum (full and incremental) run and leave the data as it was", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 500);
    await f.store.insertBars("AAA", bars);
    await f.store.deleteBars("AAA", { start: T0 + 100 * MIN });
    const optimize = await call(f.app, "POST", "/v1/maintenance/optimize");
    expect(optimize.status).toBe(200);
    expect(typeof optimize.body.durationMs).toBe("number");
    for (const path of ["/v1/maintenance/vacuum", "/v1/maintenance/vacuum?incremental=true"]) {
      const vacuum = await call(f.app, "POST", path);
      expect(vacuum.status).toBe(200);
      expect(Number.isInteger(vacuum.body.freedPages)).toBe(true);
      expect(vacuum.body.freedPages).toBeGreaterThanOrEqual(0);
    }
    expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 100));
    const actions = (await f.store.audit.query()).map((entry) => entry.action);
    expect(actions.filter((a) => a.startsWith("maintenance.")).sort()).toEqual(["maintenance.optimize", "maintenance.vacuum", "maintenance.vacuum"]);
  });

  test("backup writes a consistent copy, under the given name, into the backup folder", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 20);
    await f.store.insertBars("AAA", bars);
    const answer = await call(f.app, "POST", "/v1/maintenance/backup?name=nightly.db");
    expect(answer.status).toBe(200);
    const file = join(f.backupDir, "nightly.db");
    expect(answer.body).toEqual({ name: "nightly.db", bytes: statSync(file).size, durationMs: expect.any(Number) });
    expect(JSON.stringify(answer.body)).not.toContain(f.backupDir);
    const copy = openDatabase({ path: file, readonly: true });
    try {
      expectSameBars(copy.getBars("AAA"), bars);
    } finally {
      copy.close();
    }
  });

  test("backup without a name picks a timestamped one in the folder", async () => {
    const f = await openApiFixture();
    const answer = await call(f.app, "POST", "/v1/maintenance/backup");
    expect(answer.status).toBe(200);
    expect(answer.body.name).toMatch(/^backup-[0-9TZ-]+\.db$/);
    expect(existsSync(join(f.backupDir, answer.body.name))).toBe(true);
  });

  test("a backup name with '/' or '..' (or a leading dot) is a 422 and writes nothing anywhere", async () => {
    const f = await openApiFixture();
    for (const name of ["a/b.db", "../escape.db", "..", ".hidden.db", "sub%2Fx.db", "a\\b.db"]) {
      const error = expectError(await call(f.app, "POST", `/v1/maintenance/backup?name=${encodeURIComponent(name)}`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "name", message: expect.any(String) }]);
    }
    expect(existsSync(f.backupDir) ? readdirSync(f.backupDir) : []).toEqual([]);
    expect(readdirSync(f.root).filter((file) => !file.startsWith("trading.db"))).toEqual([]);
    expect(existsSync(join(f.root, "escape.db"))).toBe(false);
  });

  test("a second backup under the same name is a 409 and does not tell the caller the server's folder", async () => {
    const f = await openApiFixture();
    expect((await call(f.app, "POST", "/v1/maintenance/backup?name=same.db")).status).toBe(200);
    const size = statSync(join(f.backupDir, "same.db")).size;
    const error = expectError(await call(f.app, "POST", "/v1/maintenance/backup?name=same.db"), 409, "CONFLICT");
    expect(statSync(join(f.backupDir, "same.db")).size).toBe(size);
    // maintenance.ts: "The folder is the server's business; the caller learns the name it chose."
    expect(error.message).not.toContain(f.backupDir);
  });

  test("501 for backup when backupDir is null", async () => {
    const f = await openApiFixture({ api: { backupDir: null } });
    const before = await snapshot(f.store);
    expectError(await call(f.app, "POST", "/v1/maintenance/backup?name=x.db"), 501, "NOT_IMPLEMENTED");
    expect(existsSync(f.backupDir)).toBe(false);
    expect(await snapshot(f.store)).toEqual(before);
  });

  test("createApp without backupDir over a file database backs up into `backups` beside it (ApiOptions doc)", async () => {
    const f = await openApiFixture();
    expect(await defaultBackupDir(f.store)).toBe(join(f.root, "backups"));
    const app = createApp(f.store, { logError: () => {} });
    const answer = await call(app, "POST", "/v1/maintenance/backup?name=default.db");
    expect({ status: answer.status, text: answer.text.slice(0, 200) }).toEqual({ status: 200, text: expect.any(String) });
    expect(existsSync(join(f.root, "backups", "default.db"))).toBe(true);
  });

  test("422 for an option of another action or an unknown action", async () => {
    const f = await openApiFixture();
    expect(expectError(await call(f.app, "POST", "/v1/maintenance/optimize?mode=FULL"), 422, "VALIDATION").details).toEqual([{ field: "mode", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "POST", "/v1/maintenance/checkpoint?name=x.db"), 422, "VALIDATION").details).toEqual([{ field: "name", message: expect.any(String) }]);
    expectError(await call(f.app, "POST", "/v1/maintenance/checkpoint?mode=SOMETIMES"), 422, "VALIDATION");
    expectError(await call(f.app, "POST", "/v1/maintenance/explode"), 422, "VALIDATION");
    expect(existsSync(join(f.backupDir, "x.db"))).toBe(false);
  });

  test("stats are the store's: file, pages and row counts per table", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 7));
    await f.store.insertQuotes("AAA", [{ timestamp: T0, last: 1 }]);
    await f.store.prefs.set("k", 1);
    const answer = await call(f.app, "GET", "/v1/maintenance/stats");
    expect(answer.status).toBe(200);
    expect(answer.body.path).toBe(f.dbPath);
    expect(answer.body.journalMode).toBe("wal");
    expect(answer.body.rows).toMatchObject({
      market_data: 7,
      quotes: 1,
      user_preferences: 1,
      audit_log: (await f.store.audit.query()).length,
    });
    const stats = await f.store.maintenance.stats();
    expect(answer.body.rows).toEqual(stats.rows);
    expect(answer.body.pageSize).toBe(stats.pageSize);
  });

  test("integrity check (full and quick) is ok on a sound file", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 7));
    for (const path of ["/v1/maintenance/integrity", "/v1/maintenance/integrity?quick=true"]) {
      const answer = await call(f.app, "GET", path);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ ok: true, problems: [], durationMs: expect.any(Number) });
    }
    expectError(await call(f.app, "GET", "/v1/maintenance/integrity?quick=yes"), 422, "VALIDATION");
  });
});
