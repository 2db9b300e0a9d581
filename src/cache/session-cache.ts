/**
 * SessionCache: the ADR's per-symbol CSV hot cache. Each symbol has one CSV file under the
 * cache folder and one `session_cache` row describing it (rows, bytes, SHA-256, coverage).
 *
 * Every change to a file happens inside one BEGIN IMMEDIATE transaction of the database, which
 * is the cross-process arbiter: two SessionCache instances, two processes, or a writer and a
 * compaction never touch one file at the same time, and the row commits with the change it
 * describes. bun:sqlite transaction callbacks must be synchronous, so the file work inside them
 * uses node:fs's synchronous calls; reads outside them use Bun.file.
 *
 * A crash can only leave the file ahead of its row (an append or a rename not yet committed).
 * The first use of a symbol by an instance checks the file against the row and repairs it:
 * an uncommitted tail is cut off; anything else is rebuilt from market_data (write-through) or
 * salvaged line by line (no write-through, where the file is the only copy).
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { resolveSessionCacheSettings, type ResolvedSessionCacheSettings, type SessionCacheSettings } from "../config.ts";
import { validateBars, type Bar, type BarColumns, type BarInput } from "../domain/bar.ts";
import { batchSize } from "../domain/batch.ts";
import type { CacheEntry, CacheRecoveryEvent, CacheRecoveryKind } from "../domain/cache.ts";
import type { JsonValue } from "../domain/json.ts";
import { StorageError, TradeliteError, ValidationError, type StorageErrorCode } from "../domain/errors.ts";
import { readRange, type TimeRange } from "../domain/query.ts";
import { assertSymbol } from "../domain/symbol.ts";
import { normalizeSymbol } from "../domain/instrument-symbol.ts";
import { DAY_MS, MIN_TIMESTAMP } from "../domain/time.ts";
import { timeSpan } from "../domain/batch.ts";
import type { Store } from "../domain/store.ts";
import { cacheBackendOf, wait, type CacheBackend, type CacheTx, type CacheWork } from "../domain/cache-backend.ts";
import { CSV_HEADER_LINE, formatBarLines, formatStoredBars, latestByTimestamp, lineKey, parseCacheFile } from "./csv.ts";
import { cacheFileName } from "./file-name.ts";

export interface SessionCacheOptions extends SessionCacheSettings {
  /**
   * The store the cache writes through to and keeps its metadata in: any backend's
   * (`openStore(...)`, `createSqliteStore(db)`), or a view of one from withActor, whose actor the
   * audit log then names. The files stay on this machine; the metadata, market_data and the lock
   * are the store's, so caches in several processes sharing the folder stay consistent.
   */
  store: Store;
  /**
   * Called for every repair or rebuild the cache makes, besides the recovery metric it always
   * records (`session_cache.recovery`, value 1, labels kind and symbol).
   */
  onRecovery?: (event: CacheRecoveryEvent) => void;
}

/** Per call: who the audit log names for the changes (default: the database's `actor` option). */
export interface CacheCallOptions {
  actor?: string;
}

export interface StoreBarsResult {
  /** Bars written: one per distinct timestamp in the call. */
  written: number;
  /** Whether this call reached compactEvery and compacted the file. */
  compacted: boolean;
}

export interface CompactionResult {
  rowsBefore: number;
  rowsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** What this instance knows of a file it has verified: the running hash lets appends extend it. */
interface FileState {
  size: number;
  checksum: string;
  mtimeMs: number;
  hasher: Bun.CryptoHasher;
}

/** A verified, parsed copy of a file, valid while the row's checksum is `checksum`. */
interface Snapshot {
  checksum: string;
  bars: Bar[];
}

const encoder = new TextEncoder();

/** The recovery metric every repair records. */
export const RECOVERY_METRIC = "session_cache.recovery";

export class SessionCache {
  readonly settings: ResolvedSessionCacheSettings;
  /** The store the cache writes through to and keeps its metadata in (the one it was given). */
  readonly store: Store;
  readonly #backend: CacheBackend;
  readonly #onRecovery: ((event: CacheRecoveryEvent) => void) | undefined;
  readonly #files = new Map<string, FileState>();
  readonly #snapshots = new Map<string, Snapshot>();

  constructor(options: SessionCacheOptions) {
    const { store, onRecovery, ...settings } = options ?? ({} as Partial<SessionCacheOptions>);
    // The store first: a caller of the removed `{ db }` form is told what to give instead.
    this.#backend = backendOf(store);
    this.store = store as Store; // backendOf refused anything else
    const resolved = resolveSessionCacheSettings(settings);
    // Resolved once: a later process.chdir must not make every file look missing.
    this.settings = { ...resolved, dir: resolve(resolved.dir) };
    this.#onRecovery = onRecovery;
    try {
      mkdirSync(this.settings.dir, { recursive: true });
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? "error";
      throw new StorageError("CACHE_DIR", `cannot create the cache folder ${this.settings.dir} (${reason})`, { cause: error });
    }
  }

  /**
   * The symbol as the store keys it: normalized when the database's normalizeSymbols setting is
   * on, so the file, its row and market_data agree on one key on every backend.
   */
  #key(symbol: string): string {
    return this.store.normalizeSymbols ? normalizeSymbol(symbol) : symbol;
  }

  /** "sqlite" or "postgres": where the metadata, market_data and the lock are. */
  get backend(): "sqlite" | "postgres" {
    return this.#backend.name;
  }

  /**
   * Validates the bars (the same rules as insertBars), writes them through to market_data when
   * writeThrough is on, and appends them to the symbol's file, all under one lock; every
   * compactEvery-th call compacts the file. When it resolves, the bars are in the file (and the
   * database) and the metadata row says so. `actor` names who the audit log credits (default:
   * the database's `actor` option).
   */
  async storeBars(given: string, bars: readonly BarInput[] | BarColumns, options: CacheCallOptions = {}): Promise<StoreBarsResult> {
    const symbol = this.#key(given);
    const actor = options?.actor;
    const fileName = cacheFileName(symbol);
    const batch = validateBars(bars, this.#backend.timezone);
    const written = batchSize(batch);
    if (written === 0) return { written: 0, compacted: false };
    const appended = encoder.encode(formatBarLines(batch));
    const { timestamp } = batch;
    let caughtUp = false;
    const cache = this;
    const due = await this.#locked(symbol, function* (tx) {
      // A compaction left due by another writer between its append and its compaction, or by
      // a crash there, runs first; this call reports it.
      const { entry, compacted } = yield* cache.#ready(tx, symbol, fileName);
      caughtUp = compacted;
      const path = cache.#path(fileName);
      if (cache.settings.writeThrough) yield* wait(tx.insertBars(symbol, bars));
      const state = cache.#files.get(symbol)!;
      try {
        appendFileSync(path, appended);
        state.hasher.update(appended);
        state.size += appended.length;
        state.checksum = state.hasher.copy().digest("hex");
        state.mtimeMs = statSync(path).mtimeMs;
        const { start: first, end: last } = timeSpan(timestamp);
        const version = (yield* wait(tx.entry(symbol)))?.market_version ?? entry.market_version;
        const next: CacheEntry = {
          ...entry,
          last_updated: Date.now(),
          row_count: entry.row_count + written,
          checksum: state.checksum,
          size_bytes: state.size,
          writes_since_compaction: entry.writes_since_compaction + 1,
          first_timestamp: entry.first_timestamp === null ? first : Math.min(entry.first_timestamp, first),
          last_timestamp: entry.last_timestamp === null ? last : Math.max(entry.last_timestamp, last),
          market_version: version,
          file_version: cache.settings.writeThrough ? version : entry.file_version,
        };
        yield* wait(tx.put(next));
        // With write-through, insertBars records this write (in the symbol's rollup by default).
        if (!cache.settings.writeThrough) yield* wait(tx.audit("cache.store", symbol, { rows: written, start: first, end: last }));
        return next.writes_since_compaction >= cache.settings.compactEvery;
      } catch (error) {
        // Still inside the lock: put the file back as the row (about to roll back) describes it.
        cache.#truncate(path, entry.size_bytes);
        throw error;
      }
    }, actor);
    if (!due) return { written, compacted: caughtUp };
    // The append is committed (acknowledged) before the compaction starts, in a transaction of
    // its own: a compaction that fails or dies after its rename leaves a file of acknowledged
    // bars only, which the next use repairs, and never touches the bars just stored. Another
    // writer may have compacted in between; the row says whether it is still due.
    try {
      const compacted = await this.#locked(symbol, function* (tx) {
        return (yield* cache.#ready(tx, symbol, fileName)).compacted;
      }, actor);
      return { written, compacted: caughtUp || compacted };
    } catch (error) {
      throw new StorageError(
        "COMPACTION_FAILED",
        `the bars were stored, but compacting the cache file of ${symbol} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /**
   * Bars in the inclusive range, identical to db.getBars for it: the part the file covers is
   * served from the file (through a checksum-verified copy in memory, with one primary-key read
   * of the symbol's session_cache row to know the file is current, and no market_data read);
   * the part it does not cover comes from market_data.
   */
  async getBars(given: string, range?: TimeRange): Promise<Bar[]> {
    const symbol = this.#key(assertSymbol(given));
    const { reads } = this.#backend;
    const { start, end } = readRange(range, this.#backend.timezone);
    let entry = await reads.entry(symbol);
    if (entry && !this.#files.has(symbol) && !this.#backend.readonly) {
      // First use by this instance: check the file against its row (and repair it) first.
      entry = await this.#readyEntry(symbol);
    }
    let coveredFrom = entry ? this.#coveredFrom(entry) : null;
    if (entry === null || coveredFrom === null || end < coveredFrom) return reads.getBars(symbol, { start, end });
    let snapshot = await this.#snapshot(symbol, entry);
    if (!snapshot && this.#backend.readonly) {
      // A read-only database cannot take the lock to repair: market_data is the answer when it
      // holds the bars, and a file that does not match its row cannot be trusted otherwise.
      if (this.settings.writeThrough) return reads.getBars(symbol, { start, end });
      throw new StorageError("CACHE_UNVERIFIED", `the cache file of ${symbol} does not match its row; open the database read-write to repair it`);
    }
    if (!snapshot) {
      // The file is changing under us (another instance's compaction between its rename and its
      // commit): wait for the lock, check the file again, and read what that says.
      entry = await this.#readyEntry(symbol);
      coveredFrom = this.#coveredFrom(entry);
      if (coveredFrom === null || end < coveredFrom) return reads.getBars(symbol, { start, end });
      snapshot = await this.#snapshot(symbol, entry);
      if (!snapshot) throw new StorageError("CACHE_UNSTABLE", `the cache file of ${symbol} kept changing while it was read`);
    }
    const fromFile = sliceByTime(snapshot.bars, Math.max(start, coveredFrom), end);
    const older = start < coveredFrom ? await reads.getBars(symbol, { start, end: coveredFrom - 1 }) : [];
    return [...older, ...fromFile.map((bar) => ({ ...bar }))];
  }

  /** Compacts the symbol's file now: dedupe (later wins), sort, retention, row and byte caps. */
  async compact(given: string, options: CacheCallOptions = {}): Promise<CompactionResult> {
    const symbol = this.#key(given);
    const fileName = cacheFileName(symbol);
    const cache = this;
    return this.#locked(symbol, function* (tx) {
      const entry = yield* cache.#verified(tx, symbol, fileName);
      const { entry: next, result } = yield* cache.#compactFile(tx, entry);
      yield* wait(tx.put(next));
      return result;
    }, options?.actor);
  }

  /**
   * Rebuilds the symbol's file from market_data under the same retention rules. Refused
   * without write-through, where the file is the only copy of its bars.
   */
  async rebuild(given: string): Promise<CacheEntry> {
    const symbol = this.#key(given);
    const fileName = cacheFileName(symbol);
    if (!this.settings.writeThrough) {
      throw new StorageError(
        "CACHE_ONLY_COPY",
        `cannot rebuild ${symbol} from market_data: without write-through the cache file is the only copy of its bars`,
      );
    }
    const cache = this;
    return this.#locked(symbol, function* (tx) {
      yield* cache.#removeTempFile(tx, symbol, fileName);
      const entry = yield* cache.#rebuildFromDatabase(tx, symbol, fileName, yield* wait(tx.entry(symbol)));
      yield* wait(tx.put(entry));
      return entry;
    });
  }

  /** The symbol's session_cache row, or null when the symbol has no cache file. */
  async stats(given: string): Promise<CacheEntry | null> {
    const symbol = this.#key(assertSymbol(given));
    return this.#backend.reads.entry(symbol);
  }

  async list(): Promise<CacheEntry[]> {
    return this.#backend.reads.list();
  }

  // -------------------------------------------------------------------------------------------

  #path(fileName: string): string {
    return join(this.settings.dir, fileName);
  }

  /**
   * Runs `work` under the database's write lock. Any failure forgets what this instance knew
   * about the file, so the next call verifies it afresh.
   */
  async #locked<T>(symbol: string, work: CacheWork<T>, actor?: string): Promise<T> {
    try {
      return await this.#backend.locked(work, actor);
    } catch (error) {
      this.#files.delete(symbol);
      this.#snapshots.delete(symbol);
      if (error instanceof TradeliteError) throw error;
      // node:fs's errno (ENOSPC, EACCES, ...): the file system's own word for what failed.
      const code = ((error as NodeJS.ErrnoException).code as StorageErrorCode | undefined) ?? "IO_ERROR";
      throw new StorageError(code, `session cache for ${symbol}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * From where reads are served from the file, or null when they may not be. With write-through,
   * from covered_from while the file is in step with market_data. Without it the file is its own
   * record: everything from its oldest bar on comes from the file.
   */
  #coveredFrom(entry: CacheEntry): number | null {
    if (!this.settings.writeThrough) return entry.first_timestamp;
    if (entry.market_version !== entry.file_version) return null;
    return entry.covered_from;
  }

  /** #ready under the lock, for a read: the row once the file matches it. */
  #readyEntry(symbol: string): Promise<CacheEntry> {
    const cache = this;
    return this.#locked(symbol, function* (tx) {
      return (yield* cache.#ready(tx, symbol, cacheFileName(symbol))).entry;
    });
  }

  /**
   * The symbol's row once the file matches it and any compaction that is due has run (a crash
   * between a write and its compaction leaves one due): inside the lock.
   */
  *#ready(tx: CacheTx, symbol: string, fileName: string): Generator<unknown, { entry: CacheEntry; compacted: boolean }, unknown> {
    const entry = yield* this.#verified(tx, symbol, fileName);
    if (entry.writes_since_compaction < this.settings.compactEvery) return { entry, compacted: false };
    const { entry: compacted } = yield* this.#compactFile(tx, entry);
    yield* wait(tx.put(compacted));
    return { entry: compacted, compacted: true };
  }

  /**
   * The symbol's row after making sure the file matches it: inside the lock. Creates the file
   * (from market_data's retention window) when there is none; repairs or rebuilds it otherwise.
   */
  *#verified(tx: CacheTx, symbol: string, fileName: string): Generator<unknown, CacheEntry, unknown> {
    const path = this.#path(fileName);
    yield* this.#removeTempFile(tx, symbol, fileName);
    const entry = yield* wait(tx.entry(symbol));
    if (!entry) {
      if (existsSync(path)) return yield* this.#recover(tx, symbol, fileName, null, "a cache file without a session_cache row");
      const created = yield* this.#rebuildFromDatabase(tx, symbol, fileName, null);
      yield* wait(tx.put(created));
      return created;
    }
    if (this.settings.writeThrough && entry.market_version !== entry.file_version) {
      const resynced = yield* this.#rebuildFromDatabase(tx, symbol, fileName, entry);
      yield* wait(tx.put(resynced));
      yield* this.#report(tx, "resynced-with-database", symbol, "market_data was written outside the cache", resynced.row_count);
      return resynced;
    }
    if (!existsSync(path)) return yield* this.#recover(tx, symbol, fileName, entry, "the cache file is missing");
    const stat = statSync(path);
    const known = this.#files.get(symbol);
    if (known && known.checksum === entry.checksum && known.size === entry.size_bytes && stat.size === known.size && stat.mtimeMs === known.mtimeMs) {
      return entry;
    }
    const bytes = readFileSync(path);
    // The committed bytes are the first size_bytes; hashed once, that hash state is kept to
    // extend on the next append.
    const committed = bytes.length >= entry.size_bytes ? fileState(bytes.subarray(0, entry.size_bytes), stat.mtimeMs) : null;
    if (committed?.checksum === entry.checksum && bytes.length === entry.size_bytes) {
      this.#files.set(symbol, committed);
      return entry;
    }
    if (committed?.checksum === entry.checksum) {
      // A crash between the append and the commit: the tail was never acknowledged.
      const tail = bytes.subarray(entry.size_bytes);
      this.#truncate(path, entry.size_bytes);
      this.#files.set(symbol, { ...committed, mtimeMs: statSync(path).mtimeMs });
      const dropped = tail.reduce((count, byte) => count + (byte === 0x0a ? 1 : 0), 0) + (tail.at(-1) === 0x0a ? 0 : 1);
      yield* this.#report(tx, "unacknowledged-tail-dropped", symbol, `${tail.length} bytes after the last committed write`, entry.row_count, dropped);
      return entry;
    }
    const reason =
      bytes.length === entry.size_bytes
        ? "the file's checksum does not match its row"
        : `the file has ${bytes.length} bytes, its row says ${entry.size_bytes}`;
    return yield* this.#recover(tx, symbol, fileName, entry, reason);
  }

  /** A file that does not match its row: rebuilt from market_data, or salvaged when it is the only copy. */
  *#recover(tx: CacheTx, symbol: string, fileName: string, entry: CacheEntry | null, reason: string): Generator<unknown, CacheEntry, unknown> {
    if (this.settings.writeThrough) {
      const rebuilt = yield* this.#rebuildFromDatabase(tx, symbol, fileName, entry);
      yield* wait(tx.put(rebuilt));
      yield* this.#report(tx, "rebuilt-from-database", symbol, reason, rebuilt.row_count);
      return rebuilt;
    }
    const path = this.#path(fileName);
    const text = existsSync(path) ? readFileSync(path, "utf8") : "";
    const parsed = parseCacheFile(text);
    const content = CSV_HEADER_LINE + parsed.lines.join("");
    const bars = parsed.bars;
    const salvaged = this.#writeFile(symbol, fileName, content, {
      ...(entry ?? emptyEntry(symbol, fileName)),
      row_count: bars.length,
      first_timestamp: bars.length ? Math.min(...bars.map((bar) => bar.timestamp)) : null,
      last_timestamp: bars.length ? Math.max(...bars.map((bar) => bar.timestamp)) : null,
      covered_from: entry?.covered_from ?? (bars.length ? Math.min(...bars.map((bar) => bar.timestamp)) : MIN_TIMESTAMP),
    });
    yield* wait(tx.put(salvaged));
    const dropped = parsed.badLines.length + (parsed.partialLastLine ? 1 : 0);
    const kind: CacheRecoveryKind = parsed.badLines.length === 0 && parsed.partialLastLine ? "partial-line-dropped" : "salvaged";
    yield* this.#report(tx, kind, symbol, reason, bars.length, dropped);
    return salvaged;
  }

  /**
   * Writes the file afresh from market_data: bars in the retention window before the newest
   * bar, at most maxRows, at most maxBytes. The file then holds every bar from its first on.
   */
  *#rebuildFromDatabase(tx: CacheTx, symbol: string, fileName: string, entry: CacheEntry | null): Generator<unknown, CacheEntry, unknown> {
    const { retentionDays, maxRows, maxBytes } = this.settings;
    const newest = yield* wait(tx.latestBar(symbol));
    let lines: string[] = [];
    if (newest) {
      const cutoff = Math.floor(newest.timestamp - retentionDays * DAY_MS);
      const bars = (yield* wait(tx.getBars(symbol, { start: Math.max(cutoff, MIN_TIMESTAMP), order: "desc", limit: maxRows }))).reverse();
      lines = formatStoredBars(bars);
    }
    const keptLines = lines.slice(lines.length - capBytes(lines, maxBytes));
    const first = keptLines.length ? Date.parse(lineKey(keptLines[0]!)) : null;
    const last = keptLines.length ? Date.parse(lineKey(keptLines[keptLines.length - 1]!)) : null;
    // Covered from the first kept bar, or from the beginning of time when nothing older exists.
    const olderExists = first !== null && (yield* wait(tx.getBars(symbol, { end: first - 1, order: "desc", limit: 1 }))).length > 0;
    const version = (yield* wait(tx.entry(symbol)))?.market_version ?? entry?.market_version ?? 0;
    yield* wait(tx.audit("cache.rebuild", symbol, { rows: keptLines.length, start: first, end: last }));
    return this.#writeFile(symbol, fileName, CSV_HEADER_LINE + keptLines.join(""), {
      ...(entry ?? emptyEntry(symbol, fileName)),
      row_count: keptLines.length,
      first_timestamp: first,
      last_timestamp: last,
      covered_from: first === null || !olderExists ? MIN_TIMESTAMP : first,
      market_version: version,
      file_version: version,
    });
  }

  /**
   * Compaction on raw lines: every line was validated when it was written, so it is keyed by its
   * timestamp text (fixed-width ISO sorts as time) and never parsed. Measured here on a 12,000
   * row file with 240 duplicates appended: papaparse with dynamicTyping plus Papa.unparse costs
   * about 23x a bare read+write+fsync+rename of the file, papaparse string arrays with a template
   * serialiser about 6.5x, keying raw lines in a Map and sorting about 4x, and this: a sorted run
   * with duplicates overwritten in place by binary search (the Map and the sort only for
   * backfilled bars) about 2.5x.
   */
  *#compactFile(tx: CacheTx, entry: CacheEntry): Generator<unknown, { entry: CacheEntry; result: CompactionResult }, unknown> {
    const { retentionDays, maxRows, maxBytes } = this.settings;
    const fileName = entry.file_path;
    const text = readFileSync(this.#path(fileName), "utf8");
    const { keys, lines } = latestLinesByKey(text);
    let from = 0;
    if (keys.length > 0) {
      const newest = Date.parse(keys[keys.length - 1]!);
      const cutoff = new Date(Math.max(newest - retentionDays * DAY_MS, MIN_TIMESTAMP)).toISOString();
      while (from < keys.length && keys[from]! < cutoff) from++;
    }
    from = Math.max(from, keys.length - maxRows);
    const windowLines = lines.slice(from);
    const keptLines = windowLines.slice(windowLines.length - capBytes(windowLines, maxBytes));
    const droppedOld = keys.length - keptLines.length;
    const first = keptLines.length ? Date.parse(lineKey(keptLines[0]!)) : null;
    const last = keptLines.length ? Date.parse(lineKey(keptLines[keptLines.length - 1]!)) : null;
    const next = this.#writeFile(entry.symbol, fileName, CSV_HEADER_LINE + keptLines.join(""), {
      ...entry,
      row_count: keptLines.length,
      first_timestamp: first,
      last_timestamp: last,
      // Dropping old rows moves the start of what the file holds completely.
      covered_from: droppedOld > 0 && first !== null ? Math.max(first, entry.covered_from ?? first) : entry.covered_from,
      writes_since_compaction: 0,
      last_compacted: Date.now(),
    });
    const result = { rowsBefore: entry.row_count, rowsAfter: next.row_count, bytesBefore: entry.size_bytes, bytesAfter: next.size_bytes };
    // The symbol's live appends since the last compaction ride in this entry (one per compaction).
    const rollup = yield* wait(tx.takeRollup(entry.symbol));
    yield* wait(tx.audit("cache.compact", entry.symbol, rollup === null ? result : { ...result, rollup } as unknown as JsonValue));
    return { entry: next, result };
  }

  /**
   * Replaces the file atomically: a temporary file in the same folder, fsync, rename over the
   * old one, fsync the folder. Returns the row that describes the new file.
   */
  #writeFile(symbol: string, fileName: string, content: string, entry: CacheEntry): CacheEntry {
    const path = this.#path(fileName);
    const temp = `${path}.tmp`;
    const bytes = encoder.encode(content);
    const fd = openSync(temp, "w");
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    fsyncDirectory(this.settings.dir);
    this.#remember(symbol, bytes, statSync(path).mtimeMs);
    this.#snapshots.delete(symbol);
    return {
      ...entry,
      file_path: fileName,
      checksum: this.#files.get(symbol)!.checksum,
      size_bytes: bytes.length,
      last_updated: Date.now(),
    };
  }

  #remember(symbol: string, bytes: Uint8Array, mtimeMs: number): void {
    this.#files.set(symbol, fileState(bytes, mtimeMs));
  }

  *#removeTempFile(tx: CacheTx, symbol: string, fileName: string): Generator<unknown, void, unknown> {
    const temp = `${this.#path(fileName)}.tmp`;
    if (!existsSync(temp)) return;
    // Compactions run under the lock, so a temporary file here was left by one that died
    // before its rename: the file it was replacing is still whole.
    unlinkSync(temp);
    const rows = (yield* wait(tx.entry(symbol)))?.row_count ?? 0;
    yield* this.#report(tx, "temp-file-removed", symbol, "an interrupted compaction left its temporary file", rows);
  }

  #truncate(path: string, size: number): void {
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, size);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A verified parsed copy of the file for reads, or null when the file is changing under us. */
  async #snapshot(symbol: string, entry: CacheEntry): Promise<Snapshot | null> {
    const known = this.#snapshots.get(symbol);
    if (known && known.checksum === entry.checksum) return known;
    const read = await Bun.file(this.#path(entry.file_path)).bytes().catch(() => null);
    // Another process may be appending (its commit not yet made): the row's bytes are the first
    // size_bytes of the file. Trust only bytes whose hash is the row's.
    const bytes = read && read.length > entry.size_bytes ? read.subarray(0, entry.size_bytes) : read;
    if (!bytes || sha256(bytes) !== entry.checksum) return null;
    const parsed = parseCacheFile(new TextDecoder().decode(bytes));
    if (parsed.badLines.length > 0 || parsed.partialLastLine) return null;
    const snapshot = { checksum: entry.checksum, bars: latestByTimestamp(parsed.bars) };
    this.#snapshots.set(symbol, snapshot);
    return snapshot;
  }

  /**
   * Records a recovery as a metric, inside the transaction that made the repair (so the two
   * commit together), and tells onRecovery.
   */
  *#report(tx: CacheTx, kind: CacheRecoveryKind, symbol: string, reason: string, rows: number, droppedLines?: number): Generator<unknown, void, unknown> {
    yield* wait(tx.metric(RECOVERY_METRIC, 1, { kind, symbol }));
    yield* wait(tx.audit("cache.repair", symbol, droppedLines === undefined ? { kind, rows } : { kind, rows, droppedLines }));
    const event = droppedLines === undefined ? { kind, symbol, reason, rows } : { kind, symbol, reason, rows, droppedLines };
    try {
      this.#onRecovery?.(event);
    } catch (error) {
      // A failing callback must not undo the repair it is being told about.
      console.error(`tradelite: onRecovery threw for ${kind} of ${symbol}:`, error);
    }
  }
}

/** The backend of the store the options name. */
function backendOf(store: Store | undefined): CacheBackend {
  if (typeof store !== "object" || store === null) {
    throw new ValidationError([{ field: "store", message: "expected a store (openStore(...), or createSqliteStore(db) for a Database)" }]);
  }
  const backend = cacheBackendOf(store);
  if (!backend) {
    throw new ValidationError([{ field: "store", message: `this store (backend ${String(store.backend)}) carries no session cache backend; use one from openStore` }]);
  }
  return backend;
}

function emptyEntry(symbol: string, fileName: string): CacheEntry {
  return {
    symbol,
    last_updated: Date.now(),
    row_count: 0,
    file_path: fileName,
    checksum: "",
    size_bytes: 0,
    writes_since_compaction: 0,
    last_compacted: null,
    first_timestamp: null,
    last_timestamp: null,
    covered_from: null,
    market_version: 0,
    file_version: 0,
  };
}

/**
 * How many of the newest lines fit, with the header, in maxBytes. Cache lines are ASCII (ISO
 * timestamps and JavaScript number text), so a line's length is its size in bytes.
 */
function capBytes(lines: readonly string[], maxBytes: number): number {
  let bytes = CSV_HEADER_LINE.length;
  let kept = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    bytes += lines[i]!.length;
    if (bytes > maxBytes) break;
    kept++;
  }
  return kept;
}

/**
 * The data lines of a cache file, one per timestamp (the later line wins), in time order, with
 * their keys. Lines almost always arrive in order, and a re-sent bar repeats a timestamp already
 * seen: those cost a comparison or a binary search. Only a bar older than the newest seen and
 * not yet in the file (a backfill) sends the whole file through a Map and a sort.
 */
function latestLinesByKey(text: string): { keys: string[]; lines: string[] } {
  const keys: string[] = [];
  const lines: string[] = [];
  let start = text.indexOf("\n") + 1;
  while (start > 0 && start < text.length) {
    const end = text.indexOf("\n", start);
    const line = text.slice(start, end + 1);
    start = end + 1;
    const key = lineKey(line);
    const count = keys.length;
    if (count === 0 || key > keys[count - 1]!) {
      keys.push(key);
      lines.push(line);
      continue;
    }
    const at = binarySearch(keys, key);
    if (at >= 0) {
      lines[at] = line;
      continue;
    }
    return latestLinesSorted(text);
  }
  return { keys, lines };
}

function latestLinesSorted(text: string): { keys: string[]; lines: string[] } {
  const byKey = new Map<string, string>();
  let start = text.indexOf("\n") + 1;
  while (start > 0 && start < text.length) {
    const end = text.indexOf("\n", start);
    const line = text.slice(start, end + 1);
    byKey.set(lineKey(line), line);
    start = end + 1;
  }
  const keys = [...byKey.keys()].sort();
  return { keys, lines: keys.map((key) => byKey.get(key)!) };
}

function binarySearch(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const value = sorted[mid]!;
    if (value === key) return mid;
    if (value < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The hash state of a file's bytes, kept so appends can extend it. */
function fileState(bytes: Uint8Array, mtimeMs: number): FileState {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(bytes);
  return { size: bytes.length, checksum: hasher.copy().digest("hex"), mtimeMs, hasher };
}

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The bars of a sorted array within [start, end], by binary search. */
function sliceByTime(bars: readonly Bar[], start: number, end: number): Bar[] {
  const lowerBound = (value: number) => {
    let lo = 0;
    let hi = bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bars[mid]!.timestamp < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return bars.slice(lowerBound(start), lowerBound(end + 1));
}
