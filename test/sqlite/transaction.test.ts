import { afterEach, beforeEach, expect, test } from "bun:test";
import { openDatabase, ValidationError, type Database } from "../../src/mod.ts";
import { thrown } from "../support/errors.ts";
import { tempDir } from "../support/files.ts";

let dir: ReturnType<typeof tempDir>;
let db: Database;
beforeEach(() => {
  dir = tempDir("tradelite-tx-");
  db = openDatabase({ path: dir.file("trading.db") });
});
afterEach(() => {
  db.close();
  dir.cleanup();
});

test("a transaction commits every store call made in it, or none of them", () => {
  db.transaction(() => {
    db.prefs.set("a", 1);
    db.prefs.set("b", 2);
  });
  expect(db.prefs.all().map((preference) => preference.key)).toEqual(["a", "b"]);
  expect(thrown(() => db.transaction(() => {
    db.prefs.set("c", 3);
    throw new Error("changed my mind");
  }))).toBeInstanceOf(Error);
  expect(db.prefs.get("c")).toBeNull();
  expect(db.audit.verify()).toEqual({ ok: true, checked: 2 });
});

test("an async function is refused and rolled back: writes after its first await would escape the transaction", async () => {
  const error = thrown(() =>
    db.transaction((async () => {
      db.prefs.set("before-await", 1);
      await Bun.sleep(1);
    }) as never),
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).issues[0]!.field).toBe("work");
  expect(db.prefs.get("before-await")).toBeNull();
  // The same inside an outer transaction: the savepoint rolls back, the outer one goes on.
  db.transaction(() => {
    db.prefs.set("outer", 1);
    expect(thrown(() => db.transaction((async () => db.prefs.set("inner", 1)) as never))).toBeInstanceOf(ValidationError);
  });
  expect(db.prefs.all().map((preference) => preference.key)).toEqual(["outer"]);
  await Bun.sleep(5);
});

test("a transaction of something that is not a function is a ValidationError, and the lock is free after", () => {
  expect(thrown(() => db.transaction(123 as never))).toBeInstanceOf(ValidationError);
  expect(db.prefs.set("k", 1).value).toBe(1);
});
