/**
 * The backup folder's caps and its routes (src/api/maintenance.ts) through real `serve`
 * processes: TRADELITE_BACKUP_MAX_COUNT and TRADELITE_BACKUP_MAX_BYTES refuse a backup that
 * would pass them (409, nothing written, nothing old deleted), GET lists what is there, DELETE
 * removes one by its plain name and nothing else.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { killAllServers, startServeProcess, type ServerProcess } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-backups-");
let counted: ServerProcess;
let sized: ServerProcess;

beforeAll(async () => {
  [counted, sized] = await Promise.all([
    startServeProcess({ TRADELITE_DB: dir.file("count/trading.db"), TRADELITE_CACHE_DIR: dir.file("count/cache"), TRADELITE_PORT: "0", TRADELITE_BACKUP_MAX_COUNT: "2" }),
    startServeProcess({ TRADELITE_DB: dir.file("size/trading.db"), TRADELITE_CACHE_DIR: dir.file("size/cache"), TRADELITE_PORT: "0", TRADELITE_BACKUP_MAX_BYTES: "4096" }),
  ]);
});
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

const JSON_TYPE = { "Content-Type": "application/json" };

async function call(server: ServerProcess, method: string, path: string) {
  const answer = await fetch(`${server.url}${path}`, { method, headers: JSON_TYPE });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

describe("the count cap", () => {
  test("a backup past TRADELITE_BACKUP_MAX_COUNT is a 409 naming the cap; the list shows the two, oldest first; deleting one makes room", async () => {
    expect((await call(counted, "POST", "/v1/maintenance/backup?name=a.db")).status).toBe(200);
    await Bun.sleep(20);
    expect((await call(counted, "POST", "/v1/maintenance/backup?name=b.db")).status).toBe(200);
    const third = await call(counted, "POST", "/v1/maintenance/backup?name=c.db");
    expect(third.status).toBe(409);
    expect(third.body.error!.message).toContain("holds 2 backups, its cap (TRADELITE_BACKUP_MAX_COUNT)");
    expect(readdirSync(dir.file("count/backups")).sort()).toEqual(["a.db", "b.db"]);

    const listed = await call(counted, "GET", "/v1/maintenance/backups");
    expect(listed.status).toBe(200);
    expect((listed.body.backups as { name: string }[]).map((backup) => backup.name)).toEqual(["a.db", "b.db"]);
    expect(listed.body).toMatchObject({ count: 2, maxCount: 2, maxBytes: 50 * 1024 ** 3 });
    expect(listed.body.bytes).toBe((listed.body.backups as { bytes: number }[]).reduce((sum, backup) => sum + backup.bytes, 0));

    expect(await call(counted, "DELETE", "/v1/maintenance/backups/a.db")).toEqual({ status: 200, body: { deleted: "a.db" } });
    expect((await call(counted, "DELETE", "/v1/maintenance/backups/a.db")).status).toBe(404);
    expect((await call(counted, "POST", "/v1/maintenance/backup?name=c.db")).status).toBe(200);
    expect(readdirSync(dir.file("count/backups")).sort()).toEqual(["b.db", "c.db"]);
  });

  test("DELETE takes only a backup's plain name: no path, no dot file, nothing outside the folder", async () => {
    writeFileSync(dir.file("count/keep.txt"), "not a backup");
    writeFileSync(dir.file("count/backups/.hidden"), "not a backup either");
    for (const name of ["..%2Fkeep.txt", "%2E%2E", ".hidden", "..%5Ckeep.txt"]) {
      expect([404, 422]).toContain((await call(counted, "DELETE", `/v1/maintenance/backups/${name}`)).status);
    }
    expect(existsSync(dir.file("count/keep.txt"))).toBe(true);
    expect(existsSync(dir.file("count/backups/.hidden"))).toBe(true);
  });
});

describe("the size cap", () => {
  test("a backup that could pass TRADELITE_BACKUP_MAX_BYTES is a 409 before anything is written", async () => {
    const refused = await call(sized, "POST", "/v1/maintenance/backup?name=big.db");
    expect(refused.status).toBe(409);
    expect(refused.body.error!.message).toContain("would pass its cap of 4096 (TRADELITE_BACKUP_MAX_BYTES)");
    expect(existsSync(dir.file("size/backups/big.db"))).toBe(false);
    expect((await call(sized, "GET", "/v1/maintenance/backups")).body).toMatchObject({ backups: [], count: 0, bytes: 0, maxBytes: 4096 });
  });
});
