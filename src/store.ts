/**
 * openStore: one entry point that picks a backend behind the Store interface.
 */
import type { DatabaseOptions } from "./config.ts";
import { ValidationError } from "./domain/errors.ts";
import type { Store } from "./domain/store.ts";
import { openDatabase } from "./sqlite/database.ts";
import { createSqliteStore } from "./sqlite/store.ts";
import { createWorkerStore, type WorkerStoreOptions } from "./worker/store.ts";
import { openPostgresStore, type PostgresStoreOptions } from "./postgres/store.ts";

export type StoreOptions =
  | ({ backend: "sqlite" } & DatabaseOptions)
  | ({ backend: "sqlite-worker" } & WorkerStoreOptions)
  | ({ backend: "postgres" } & PostgresStoreOptions);

export async function openStore(options: StoreOptions): Promise<Store> {
  const { backend, ...rest } = options ?? {};
  switch (backend) {
    case "sqlite":
      return createSqliteStore(openDatabase(rest));
    case "sqlite-worker":
      return createWorkerStore(rest);
    case "postgres":
      return openPostgresStore(rest);
    default:
      throw new ValidationError([{ field: "backend", message: `unknown backend ${JSON.stringify(backend)}; available: "sqlite", "sqlite-worker", "postgres"` }]);
  }
}
