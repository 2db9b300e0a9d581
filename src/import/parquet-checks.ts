/**
 * The checks that come before a Parquet file's data is read (src/import/parquet.ts): the footer
 * against the file's size, and every page header against its chunk and row group. What a file
 * declares is checked here before anything is allocated for it.
 */
import type { ColumnChunk, FileMetaData } from "hyparquet";
import { parquetMetadata } from "hyparquet";
import { BarFileError } from "./header.ts";

const MAGIC = "PAR1";
/** A footer larger than this is not a bar file's (ours is ~1 KB a row group). */
const MAX_FOOTER_BYTES = 16 * 1024 * 1024;
/** Rows of one row group read at once: ~450 MB of columns at most; pyarrow writes 1Mi, we 64Ki. */
export const MAX_GROUP_ROWS = 4 * 1024 * 1024;
/** A page decompressed to more than this is refused before it is (pyarrow's pages are 1 MB). */
export const MAX_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * The footer, read and checked against the file: nothing it declares is trusted before that.
 * `parsers` are hyparquet's, for the statistics' times.
 */
export async function readFooter(data: Blob, parsers: object): Promise<FileMetaData> {
  const cut = (why: string) => new BarFileError(`not a whole Parquet file (${why}): the file is cut short or not Parquet; nothing was written`);
  if (data.size < 12) throw cut(`${data.size} bytes`);
  const head = new TextDecoder().decode(await data.slice(0, 4).arrayBuffer());
  const tail = new DataView(await data.slice(data.size - 8).arrayBuffer());
  if (head !== MAGIC || tail.getUint32(4, true) !== 0x31524150) throw cut("no PAR1 at its start and end");
  const footerBytes = tail.getUint32(0, true);
  const footerStart = data.size - 8 - footerBytes;
  if (footerStart < 4) throw cut(`its footer declares ${footerBytes} bytes, more than the file holds`);
  if (footerBytes > MAX_FOOTER_BYTES) throw new BarFileError(`its footer declares ${footerBytes} bytes, more than a bar file's (at most ${MAX_FOOTER_BYTES}); nothing was written`);
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(await data.slice(footerStart).arrayBuffer(), { parsers: parsers as never, geoparquet: false });
  } catch (error) {
    throw new BarFileError(`its footer cannot be read (${error instanceof Error ? error.message : String(error)}); nothing was written`);
  }
  let rows = 0n;
  metadata.row_groups.forEach((group, g) => {
    const where = `row group ${g + 1}`;
    if (group.num_rows < 0n || group.num_rows > BigInt(MAX_GROUP_ROWS)) {
      throw new BarFileError(`${where} declares ${group.num_rows} rows (a row group is read whole: at most ${MAX_GROUP_ROWS}); nothing was written`);
    }
    rows += group.num_rows;
    for (const column of group.columns) checkChunk(column, group.num_rows, footerStart, where);
  });
  if (rows !== metadata.num_rows) throw new BarFileError(`the footer declares ${metadata.num_rows} rows and its row groups ${rows}; nothing was written`);
  return metadata;
}

/** A column chunk must lie between the header and the footer, and hold no more than its rows could. */
function checkChunk(column: ColumnChunk, rows: bigint, footerStart: number, where: string): void {
  const meta = column.meta_data;
  const name = meta?.path_in_schema.join(".") ?? "?";
  const refuse = (why: string) => new BarFileError(`${where}, column ${name}: ${why}; nothing was written`);
  if (meta === undefined || column.file_path) throw refuse("its data is not in this file");
  const start = chunkStart(column);
  if (start < 4n || meta.total_compressed_size < 0n || start + meta.total_compressed_size > BigInt(footerStart)) {
    throw refuse(`its ${meta.total_compressed_size} bytes at offset ${start} are not between the file's header and its footer (${footerStart} bytes in)`);
  }
  if (meta.num_values < 0n || meta.num_values > rows) throw refuse(`${meta.num_values} values in a group of ${rows} rows (a bar column is flat)`);
  // Eight bytes a value plus levels and page headers: a flat numeric column never needs more.
  if (meta.total_uncompressed_size < 0n || meta.total_uncompressed_size > rows * 16n + 1_048_576n + BigInt(MAX_PAGE_BYTES)) {
    throw refuse(`it declares ${meta.total_uncompressed_size} bytes uncompressed for ${rows} rows`);
  }
}

/**
 * The bytes of a row group's column chunks, read once, with every page header in them checked
 * before hyparquet sees them: a page lies inside its chunk, declares at most MAX_PAGE_BYTES and at
 * most the group's rows of values. hyparquet allocates what a page header declares (an array of
 * its num_values), so a header is the last place a hostile file could make it allocate.
 * Answers the file as hyparquet reads it, served from these bytes.
 */
export async function checkedGroupBytes(data: Blob, chunks: ColumnChunk[], rows: bigint, groupStart: number) {
  const ranges = chunks.map((chunk) => {
    const meta = chunk.meta_data!;
    const start = Number(chunkStart(chunk));
    return { name: meta.path_in_schema.join("."), start, end: start + Number(meta.total_compressed_size) };
  });
  const from = Math.min(...ranges.map((range) => range.start));
  const to = Math.max(...ranges.map((range) => range.end));
  const bytes = await data.slice(from, to).arrayBuffer();
  for (const range of ranges) {
    const problem = pageProblem(new Uint8Array(bytes, range.start - from, range.end - range.start), rows);
    if (problem !== null) throw new BarFileError(`row group at row ${groupStart + 1}, column ${range.name}: ${problem}; nothing was written`);
  }
  return {
    byteLength: data.size,
    slice: (start: number, end = data.size) => (start >= from && end <= to ? bytes.slice(start - from, end - from) : data.slice(start, end).arrayBuffer()),
  };
}

/** Where a column chunk starts: its dictionary page, when it has one before its data. */
function chunkStart(chunk: ColumnChunk): bigint {
  const meta = chunk.meta_data!;
  return meta.dictionary_page_offset !== undefined && meta.dictionary_page_offset < meta.data_page_offset ? meta.dictionary_page_offset : meta.data_page_offset;
}

/** Why the pages of a column chunk cannot be read safely, or null. */
function pageProblem(chunk: Uint8Array, rows: bigint): string | null {
  let at = 0;
  while (at < chunk.length) {
    let header: PageHeader;
    try {
      header = readPageHeader(chunk, at);
    } catch {
      return `the page header at byte ${at} of the chunk cannot be read`;
    }
    if (header.compressed < 0 || header.end + header.compressed > chunk.length) return `a page declares ${header.compressed} bytes, past the end of its chunk`;
    if (header.uncompressed < 0 || header.uncompressed > MAX_PAGE_BYTES) return `a page declares ${header.uncompressed} bytes uncompressed (at most ${MAX_PAGE_BYTES})`;
    if (header.values < 0 || BigInt(header.values) > rows) return `a page declares ${header.values} values in a group of ${rows} rows`;
    at = header.end + header.compressed;
  }
  return null;
}

interface PageHeader {
  uncompressed: number;
  compressed: number;
  /** The page's num_values (data, dictionary or data v2 header), 0 if none. */
  values: number;
  /** Where the header ends and the page's bytes begin. */
  end: number;
}

/**
 * A Parquet PageHeader (Thrift compact protocol) at `at`: the sizes and the value count, the rest
 * skipped. Fields: 2 uncompressed_page_size, 3 compressed_page_size, 5 data_page_header,
 * 7 dictionary_page_header and 8 data_page_header_v2, whose field 1 is num_values.
 */
function readPageHeader(bytes: Uint8Array, at: number): PageHeader {
  let pos = at;
  const byte = (): number => {
    if (pos >= bytes.length) throw new RangeError("past the end");
    return bytes[pos++]!;
  };
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const b = byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new RangeError("varint too long");
  };
  const zigzag = (): number => {
    const value = varint();
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  };
  const skip = (type: number, depth: number): void => {
    if (depth > 16) throw new RangeError("nested too deep");
    if (type === 1 || type === 2) return;
    if (type === 3) pos++;
    else if (type === 4 || type === 5 || type === 6) varint();
    else if (type === 7) pos += 8;
    else if (type === 8) pos += varint();
    else if (type === 9 || type === 10) {
      const head = byte();
      const size = head >> 4 === 15 ? varint() : head >> 4;
      for (let i = 0; i < size; i++) skip(head & 0x0f, depth + 1);
    } else if (type === 11) {
      const size = varint();
      const types = size > 0 ? byte() : 0;
      for (let i = 0; i < size; i++) {
        skip(types >> 4, depth + 1);
        skip(types & 0x0f, depth + 1);
      }
    } else if (type === 12) struct(() => false, depth + 1);
    else throw new RangeError(`type ${type}`);
  };
  /** Reads a struct's fields, handing each to `field` (which answers whether it read it). */
  const struct = (field: (id: number, type: number) => boolean, depth: number): void => {
    let id = 0;
    for (;;) {
      const head = byte();
      if (head === 0) return;
      id = head >> 4 === 0 ? zigzag() : id + (head >> 4);
      if (!field(id, head & 0x0f)) skip(head & 0x0f, depth);
    }
  };
  const header = { uncompressed: -1, compressed: -1, values: 0, end: 0 };
  struct((id, type) => {
    if (type === 5 && (id === 2 || id === 3)) {
      header[id === 2 ? "uncompressed" : "compressed"] = zigzag();
      return true;
    }
    if (type === 12 && (id === 5 || id === 7 || id === 8)) {
      struct((inner, innerType) => {
        if (inner !== 1 || innerType !== 5) return false;
        header.values = zigzag();
        return true;
      }, 1);
      return true;
    }
    return false;
  }, 0);
  header.end = pos;
  return header;
}
