/**
 * What every backend's store does alike around its calls: one view per actor name (withActor),
 * and the same StorageError CLOSED for every call once the store is closed. Written once here so
 * the three stores (src/sqlite, src/postgres, src/worker) cannot drift apart.
 */
import { checkActor } from "./audit.ts";
import { StorageError } from "./errors.ts";

/**
 * Views a store keeps by name. Callers ask for a handful of names (one per API token); past this
 * many, a new name gets a fresh view each time instead of growing the map with every string seen.
 */
const KEPT_VIEWS = 64;

/** A store's withActor: the name checked, `make(name)` building the view, one kept per name. */
export function actorViews<S>(make: (actor: string) => S): (name: string) => S {
  const views = new Map<string, S>();
  return (name) => {
    checkActor(name);
    let view = views.get(name);
    if (!view) {
      view = make(name);
      if (views.size < KEPT_VIEWS) views.set(name, view);
    }
    return view;
  };
}

/** The refusal of a call made after close(); `iteration`: an iteration the close cut short. */
export function closedError(what: "call" | "iteration" = "call"): StorageError {
  return new StorageError("CLOSED", what === "iteration" ? "the store closed during this iteration" : "the store is closed");
}

/** `work()`, or a promise rejected with CLOSED when the store is closed. */
export function whenOpen<T>(closed: boolean, work: () => Promise<T>): Promise<T> {
  return closed ? Promise.reject(closedError()) : work();
}
