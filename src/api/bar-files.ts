/**
 * Binary bar files as uploads: Parquet (`application/vnd.apache.parquet`), Arrow IPC
 * (`application/vnd.apache.arrow.file` or `.stream`) and TDX's `.day` / `.lc1` / `.lc5`
 * (`application/octet-stream` with `?file=sz000001.day`, the name carrying the exchange, the code
 * and the kind). They go through the importers `tradelite import` uses, so a file reads the same
 * from the command line, the API and the page. Each importer checks the whole file before it
 * hands out a batch (a hostile Parquet footer, a TDX file cut short); the batches are collected
 * here and written once by the route, so an upload is all or nothing like the others. The body
 * is held whole (bounded by the body limit): these formats are read by seeking.
 */
import type { Context } from "hono";
import type { BarColumns } from "../domain/bar.ts";
import { importArrowFile } from "../import/arrow.ts";
import { importParquetFile } from "../import/parquet.ts";
import { importTdxFile, tdxFileName, tdxSymbol } from "../import/tdx-binary.ts";
import { asUploadError, assertRouteSymbol, ColumnBuilder, type UploadOptions } from "./body.ts";
import { ApiError } from "./errors.ts";

type BinaryKind = "parquet" | "arrow" | "tdx";

/** The content types of binary bar uploads, for messages. */
export const BINARY_TYPES = "application/vnd.apache.parquet, application/vnd.apache.arrow.file or .stream, application/octet-stream with ?file= for a TDX file";

/** The binary bodies in the OpenAPI document (plain schemas: the route reads them itself). */
export const BINARY_CONTENT = {
  "application/vnd.apache.parquet": { schema: { type: "string", format: "binary" } },
  "application/vnd.apache.arrow.file": { schema: { type: "string", format: "binary" } },
  "application/vnd.apache.arrow.stream": { schema: { type: "string", format: "binary" } },
  "application/octet-stream": { schema: { type: "string", format: "binary", description: "a TDX .day, .lc1 or .lc5 file, named by ?file=" } },
} as const;

export function binaryKind(type: string): BinaryKind | null {
  const essence = type.split(";")[0]!.trim();
  if (essence === "application/vnd.apache.parquet") return "parquet";
  if (essence === "application/vnd.apache.arrow.file" || essence === "application/vnd.apache.arrow.stream") return "arrow";
  if (essence === "application/octet-stream") return "tdx";
  return null;
}

/** TDX minute files hold the exchange's wall clock, whatever the store's zone (as the CLI reads them). */
const TDX_ZONE = "Asia/Shanghai";

export async function readBinaryBarFile(c: Context, kind: BinaryKind, options: UploadOptions): Promise<BarColumns> {
  const tdx = kind === "tdx" ? tdxUpload(options) : null;
  const body = await c.req.raw.blob();
  const builder = new ColumnBuilder();
  const write = async (bars: BarColumns, _where: unknown, symbol: string | null = null) => {
    assertRouteSymbol(symbol, options.symbol, "symbol");
    builder.append(bars);
    return bars.timestamp.length;
  };
  try {
    if (kind === "parquet") await importParquetFile(body, { timeZone: options.timeZone, write });
    else if (kind === "arrow") await importArrowFile(body, { timeZone: options.timeZone, write });
    else await importTdxFile(body, tdx!, { timeZone: tdx!.kind === "day" ? options.timeZone : TDX_ZONE, write: (bars, records) => write(bars, records) });
  } catch (error) {
    throw asUploadError(error);
  }
  return builder.result();
}

/** The TDX file an octet-stream upload names, checked against the route before a byte is read. */
function tdxUpload(options: UploadOptions): NonNullable<ReturnType<typeof tdxFileName>> {
  const name = options.file === undefined ? null : tdxFileName(options.file);
  if (name === null) {
    throw new ApiError(422, "an application/octet-stream upload is a TDX file named by ?file= (sz000001.day, sh600519.lc1, sh600519.lc5)", [{ field: "file", message: "a TDX file name" }], "VALIDATION");
  }
  if (tdxSymbol(name) !== options.symbol) {
    throw new ApiError(422, `${options.file} holds ${tdxSymbol(name)}; this route writes ${options.symbol}`, [{ field: "file", message: `${tdxSymbol(name)} is not ${options.symbol}` }], "VALIDATION");
  }
  if ((name.kind === "day") !== (options.interval === "1d")) {
    const fix = name.kind === "day" ? "a .day file is the daily series: add ?interval=1d" : "a minute file is the bars as written: leave out ?interval";
    throw new ApiError(422, fix, [{ field: "interval", message: fix }], "VALIDATION");
  }
  return name;
}
