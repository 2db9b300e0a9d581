/**
 * The per-actor views and the CLOSED refusal every store shares (src/domain/store-view.ts).
 */
import { expect, test } from "bun:test";
import { StorageError, ValidationError } from "../../src/domain/errors.ts";
import { actorViews, closedError, whenOpen } from "../../src/domain/store-view.ts";

test("withActor: one view per name, built once; the name is checked before anything is built", () => {
  const built: string[] = [];
  const withActor = actorViews((actor) => {
    built.push(actor);
    return { actor };
  });
  const desk = withActor("desk-7");
  expect(withActor("desk-7")).toBe(desk);
  expect(withActor("feed")).not.toBe(desk);
  expect(built).toEqual(["desk-7", "feed"]);
  expect(() => withActor("")).toThrow(ValidationError);
  expect(built).toEqual(["desk-7", "feed"]);
});

test("withActor keeps 64 names; past them a new name gets a fresh view each time, and the kept ones stay", () => {
  const withActor = actorViews((actor) => ({ actor }));
  const kept = Array.from({ length: 64 }, (_, i) => withActor(`token-${i}`));
  expect(withActor("token-0")).toBe(kept[0]!);
  expect(withActor("token-63")).toBe(kept[63]!);
  const extra = withActor("token-64");
  expect(extra).toEqual({ actor: "token-64" });
  expect(withActor("token-64")).not.toBe(extra);
});

test("a closed store refuses with StorageError CLOSED; whenOpen runs the work only while open", async () => {
  expect(closedError()).toMatchObject({ code: "CLOSED", message: "the store is closed" });
  expect(closedError("iteration")).toMatchObject({ code: "CLOSED", message: "the store closed during this iteration" });
  let ran = 0;
  expect(await whenOpen(false, async () => ++ran)).toBe(1);
  const refused = await whenOpen(true, async () => ++ran).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(StorageError);
  expect((refused as StorageError).code).toBe("CLOSED");
  expect(ran).toBe(1);
});
