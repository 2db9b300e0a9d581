/**
 * tradelite/client: the HTTP API from another process, typed with the library's own types and
 * throwing the library's errors. It imports no backend and no Hono. Re-exports only.
 */
export { createClient, type Client, type ClientOptions, type ArtifactRegistration, type BarUpload, type ExportFormat, type Health, type Info, type Ready, type BackupList } from "../client/client.ts";
export type { ClientWatchOptions, WatchTransport } from "../client/watch.ts";
