// Shared-secret bearer auth for the Node services the rooms call (the archive sink, the push
// relay): one secret per service, sent as `Authorization: <scheme> <secret>`.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";

// Comparing digests keeps the comparison constant-time even when the lengths differ
// (timingSafeEqual itself throws on unequal lengths, which would leak the length).
const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export function secretMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

export function bearerAuth(
  scheme: string,
  secret: string,
  refuse: (c: Context, why: string) => Response | Promise<Response>,
): MiddlewareHandler {
  const expected = digest(secret);
  const prefix = `${scheme} `;
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) return refuse(c, `missing Authorization: ${scheme} <secret>`);
    if (!header.startsWith(prefix) || !secretMatches(header.slice(prefix.length), expected))
      return refuse(c, "wrong credentials");
    await next();
  };
}
