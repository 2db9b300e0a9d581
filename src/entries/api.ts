/**
 * tradelite/api: the HTTP API, as a Hono app over any Store (createApp) or a running server
 * (startServer), and the settings `tradelite serve` reads from the environment. Re-exports only.
 */
export { createApp, defaultBackupDir, type ApiOptions } from "../api/app.ts";
export { startServer, type ServerOptions, type RunningServer } from "../api/server.ts";
export { LOCAL_ACTOR, type ApiToken } from "../api/security.ts";
export { accessLog, writeAccessEntry, flushAccessLog, AUTH_SUMMARY_MS, ACCESS_LOG_FLUSH_MS, type AccessEntry, type AccessLogger } from "../api/access-log.ts";
export type { ErrorBody } from "../api/errors.ts";
export { liveWebSocket, STREAM_BUFFER_BYTES, STREAM_STALL_MS, HEARTBEAT_MS, type LiveOptions, type LiveSocketData } from "../api/live.ts";
export {
  resolveServerSettings,
  isLoopbackHost,
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_BACKUP_LIMITS,
  TOKEN_SCOPES,
  type BackupLimits,
  type TokenScope,
  type ServerSettings,
} from "../config.ts";
