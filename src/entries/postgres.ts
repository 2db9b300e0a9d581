/**
 * tradelite/postgres: the PostgreSQL connection pool and its URL handling. A PostgreSQL store is
 * opened with openStore({ backend: "postgres", ... }) from the root. Re-exports only.
 */
export { PostgresPool, resolvePostgresUrl, redactUrl, type PostgresOptions } from "../postgres/connection.ts";
export type { PostgresStoreOptions } from "../postgres/store.ts";
