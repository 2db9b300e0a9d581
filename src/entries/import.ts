/**
 * tradelite/import: the one reader of bar files (CSV profiles, TDX binaries, Parquet) into a
 * store. Re-exports only.
 */
export { importBarFile, BarFileError, ENCODINGS, type BarFileOptions, type BarFileSummary, type BadRow, type Encoding, type HeaderMap } from "../import/bar-file.ts";
export { PROFILE_NAMES, VOLUME_UNITS, AMOUNT_UNITS, type ProfileName, type VolumeUnit, type AmountUnit } from "../import/profiles.ts";
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
export { importParquetFile, type ParquetFileOptions, type ParquetFileSummary } from "../import/parquet.ts";
export { importArrowFile } from "../import/arrow.ts";
export type { ColumnarFileOptions, ColumnarFileSummary } from "../import/columnar-groups.ts";
