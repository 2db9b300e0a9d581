/** PostgreSQL migration 13's objects (src/postgres/derived-days.ts), dropped to simulate a database from before it. */
export const DROP_DERIVED_DAYS = `DROP TABLE market_data_days, market_data_days_built, market_data_days_dirty, market_data_days_basis;
DROP FUNCTION market_data_days_insert, market_data_days_delete, market_data_days_update, market_data_days_truncate CASCADE`;
