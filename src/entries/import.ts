/**
 * tradelite/import: the one reader of bar files (CSV profiles, TDX binaries, Parquet) into a
 * store. Re-exports only.
 */
export { importBarFile, BarFileError, type BarFileOptions, type BarFileSummary, type BadRow } from "../import/bar-file.ts";
export {
  importTdxFile,
  tdxFileName,
  tdxSymbol,
  tdxInterval,
  tdxPriceDivisor,
  TDX_RECORD_BYTES,
  type TdxFileName,
  type TdxFileOptions,
  type TdxFileSummary,
  type BadRecord,
} from "../import/tdx-binary.ts";
