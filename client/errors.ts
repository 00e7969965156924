// The one error type the SDK throws and rejects with. `code` is the server's error code
// (protocol/errors.ts) or one of the client's own: `network` (no answer), `closed` (the client
// was closed), `cancelled` (an outbox item was cancelled), `signed_out` (the session ended).
import type { ErrorCode } from "../protocol/index.js";

export type ClientErrorCode = "network" | "closed" | "cancelled" | "signed_out";

export class ChatError extends Error {
  override readonly name = "ChatError";
  constructor(
    readonly code: ErrorCode | ClientErrorCode | (string & {}),
    message: string,
    /** the HTTP status, or 0 when the error did not come from an HTTP answer */
    readonly status = 0,
    /** with `rate_limited`: how long to wait */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** A zod error of a protocol schema, as one line for a ChatError. */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues.map((i) => (i.path.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)).join("; ");
}
