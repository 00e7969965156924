export const ERROR_CODES = [
  "invalid",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "too_large",
  "rate_limited",
  "unavailable",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every HTTP error: `{error:{code, message}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; retry_after_ms?: number };
}
