import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { describeError } from "../../db/index.js";
import type { ErrorBody, ErrorCode } from "../../protocol/index.js";

/** An error the client caused or must know about; becomes `{error:{code, message}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new HttpError(400, "invalid", message);
export const unauthorized = (message = "missing or invalid access token") =>
  new HttpError(401, "unauthorized", message);
export const forbidden = (message: string) => new HttpError(403, "forbidden", message);
export const notFound = (message: string) => new HttpError(404, "not_found", message);
export const conflict = (message: string) => new HttpError(409, "conflict", message);
export const rateLimited = (message: string, retryAfterMs: number) =>
  new HttpError(429, "rate_limited", message, retryAfterMs);

export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof HttpError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.retryAfterMs !== undefined) {
      body.error.retry_after_ms = err.retryAfterMs;
      c.header("Retry-After", String(Math.ceil(err.retryAfterMs / 1000)));
    }
    return c.json(body, err.status);
  }
  if (err instanceof z.ZodError)
    return c.json({ error: { code: "invalid", message: z.prettifyError(err) } } satisfies ErrorBody, 400);
  // never the error itself: a failed query carries its parameters (a password hash on register)
  console.error(`unhandled error: ${describeError(err)}`);
  const body: ErrorBody = { error: { code: "unavailable", message: "internal error; try again" } };
  return c.json(body, 503);
}
