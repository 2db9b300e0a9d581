/**
 * tradelite/migrate: copies a SQLite file into PostgreSQL and compares the two. Re-exports only.
 */
export {
  copySqliteToPostgres,
  compareSqliteWithPostgres,
  type CopyOptions,
  type CopyProgress,
  type CopySummary,
  type Difference,
} from "../migrate/sqlite-to-postgres.ts";
