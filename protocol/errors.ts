export const ERROR_CODES = [
  "invalid",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "too_large",
  "rate_limited",
  "unavailable",
  // 403: the user accepts group adds only from people they added as friends (PATCH /users/me)
  "group_adds_refused",
  // 404: the feature is not set up on this deployment (e.g. no VAPID key for Web Push)
  "not_configured",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every HTTP error: `{error:{code, message}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; retry_after_ms?: number };
}
