/**
 * Reads of a time-series table keyed by (symbol, timestamp): inclusive ranges in either order,
 * with a limit, as fixed prepared statements; paged iteration; deletes. Bars and quotes share it.
 */
import type { Statement } from "bun:sqlite";
import { throwIfCancelled, type Cancellation, type ReadQuery, type ReadRange } from "../domain/query.ts";
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from "../domain/time.ts";
import type { Connection } from "./connection.ts";
import { guard } from "./connection.ts";

/** Rows per page when iterating: big enough to amortise the query, small enough to bound memory. */
export const PAGE_ROWS = 8_192;

export interface SeriesReader<Row extends { timestamp: number }> {
  read(symbol: string, query: ReadQuery): Row[];
  /**
   * The same rows as `read`, fetched page by page (keyset pagination, no cursor held open); a
   * cancelled `signal` stops it before the next page.
   */
  iterate(symbol: string, query: ReadQuery, signal?: Cancellation): Generator<Row>;
  latest(symbol: string): Row | null;
  /** Rows in range; must run inside a write transaction. */
  delete(symbol: string, range: ReadRange): number;
}

/**
 * The range read of `table` as fixed statements, the selected `columns` our own constant text
 * (`scaled`: it uses ?1, a scale factor passed before the range). Four texts: a plain range read carries no
 * LIMIT, which keeps it as fast as bare .all().
 */
export function prepareRangeSelect<Row>(conn: Connection, table: string, columns: string, scaled = false) {
  const first = scaled ? 2 : 1;
  const range = `WHERE symbol = ?${first} AND timestamp BETWEEN ?${first + 1} AND ?${first + 2}`;
  const prepareSelect = (order: string, limit: string) =>
    conn.prepare<Row>(`SELECT ${columns} FROM ${table} ${range} ORDER BY timestamp ${order}${limit}`);
  const statements: Record<"asc" | "desc", { all: Statement<Row>; limited: Statement<Row> }> = {
    asc: { all: prepareSelect("ASC", ""), limited: prepareSelect("ASC", ` LIMIT ?${first + 3}`) },
    desc: { all: prepareSelect("DESC", ""), limited: prepareSelect("DESC", ` LIMIT ?${first + 3}`) },
  };
  return (symbol: string, start: number, end: number, limit: number, order: "asc" | "desc", scale?: number): Row[] => {
    // An iterator may be resumed after close(); say so instead of "Statement has finalized".
    conn.assertOpen();
    const { all, limited } = statements[order];
    if (scale !== undefined) {
      return guard(() =>
        limit < 0
          ? all.all(scale as never, symbol as never, start as never, end as never)
          : limited.all(scale as never, symbol as never, start as never, end as never, limit as never),
      );
    }
    return guard(() =>
      limit < 0
        ? all.all(symbol as never, start as never, end as never)
        : limited.all(symbol as never, start as never, end as never, limit as never),
    );
  };
}

/** `table` and `fields` are our own constants, never input. */
export function prepareSeries<Row extends { timestamp: number }>(
  conn: Connection,
  table: string,
  fields: readonly string[],
): SeriesReader<Row> {
  const select = prepareRangeSelect<Row>(conn, table, ["timestamp", ...fields].join(", "));
  const remove = conn.prepare(`DELETE FROM ${table} WHERE symbol = ? AND timestamp BETWEEN ? AND ?`);

  return {
    read(symbol, query) {
      return select(symbol, query.start, query.end, query.limit, query.order);
    },
    *iterate(symbol, query, signal) {
      let { start, end } = query;
      let remaining = query.limit < 0 ? Infinity : query.limit;
      while (remaining > 0 && start <= end) {
        throwIfCancelled(signal);
        const page = select(symbol, start, end, Math.min(PAGE_ROWS, remaining), query.order);
        yield* page;
        remaining -= page.length;
        if (page.length < PAGE_ROWS) return;
        const last = page[page.length - 1]!.timestamp;
        if (query.order === "asc") start = last + 1;
        else end = last - 1;
      }
    },
    latest(symbol) {
      return select(symbol, MIN_TIMESTAMP, MAX_TIMESTAMP, 1, "desc")[0] ?? null;
    },
    delete(symbol, { start, end }) {
      return remove.run(symbol as never, start as never, end as never).changes;
    },
  };
}
