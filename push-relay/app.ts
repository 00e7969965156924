// The relay's HTTP API (README.md has the contract). Errors use the protocol's shape,
// {error:{code, message}}, so a room's push outbox can tell "this batch can never be taken" (400,
// 413: it parks it) from "try again later" (503).
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ErrorBody, ErrorCode } from "../protocol/errors.js";
import { PUSH_BATCH_MAX_BYTES, PushBatch } from "../protocol/push.js";
import { bearerAuth } from "../lib/service-auth/index.js";
import { PUSH_AUTH_SCHEME } from "../protocol/push.js";
import { takeBatch } from "./intake.js";
import type { BatchOutcome, RelayMetrics } from "./metrics.js";
import { dbError, type RelayStore } from "./store.js";

export interface AppOptions {
  store: RelayStore;
  secret: string;
  metrics: RelayMetrics;
  log: (line: string) => void;
  /** called after a batch with new notifications is committed */
  onNotifications?: () => void;
  /** how long /readyz waits for PostgreSQL */
  readyTimeoutMs?: number;
  maxBodyBytes?: number;
}

/** the retry hint a 503 carries; the room's outbox backs off on its own schedule too */
const RETRY_AFTER_MS = 1000;

export function createApp(o: AppOptions): Hono {
  const app = new Hono();
  const maxBytes = o.maxBodyBytes ?? PUSH_BATCH_MAX_BYTES;
  const fail = (c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, retry = false) => {
    const body: ErrorBody = { error: { code, message, ...(retry ? { retry_after_ms: RETRY_AFTER_MS } : {}) } };
    if (retry) c.header("retry-after", String(Math.ceil(RETRY_AFTER_MS / 1000)));
    return c.json(body, status);
  };
  const refuse = (
    c: Context,
    outcome: BatchOutcome,
    status: ContentfulStatusCode,
    code: ErrorCode,
    message: string,
  ) => {
    o.metrics.batches.inc({ outcome });
    return fail(c, status, code, message, outcome === "unavailable");
  };

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    try {
      await withTimeout(o.store.ping(), o.readyTimeoutMs ?? 2000, "no answer in time");
      return c.json({ status: "ready" });
    } catch (err) {
      // the driver's words (host names, users) stay in our log, not in a public answer
      o.log(`readyz: PostgreSQL not reachable: ${dbError(err)}`);
      return fail(c, 503, "unavailable", "the push store (PostgreSQL) is not reachable", true);
    }
  });

  app.get("/metrics", async (c) =>
    c.body(await o.metrics.registry.metrics(), 200, { "content-type": o.metrics.registry.contentType }),
  );

  app.use(
    "/v1/*",
    bearerAuth(PUSH_AUTH_SCHEME, o.secret, (c, why) => refuse(c, "unauthorized", 401, "unauthorized", why)),
  );

  app.post(
    "/v1/batches",
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => refuse(c, "too_large", 413, "too_large", `a batch may be at most ${maxBytes} bytes; split it`),
    }),
    async (c) => {
      let json: unknown;
      try {
        json = JSON.parse(await c.req.text());
      } catch {
        return refuse(c, "invalid", 400, "invalid", "the body must be a JSON object");
      }
      const parsed = PushBatch.safeParse(json);
      if (!parsed.success)
        return refuse(c, "invalid", 400, "invalid", `batch refused, nothing taken: ${describeIssues(parsed.error)}`);
      const batch = parsed.data;
      try {
        const answer = await takeBatch(o.store.db, batch);
        o.metrics.batches.inc({ outcome: answer.duplicate ? "duplicate" : "accepted" });
        if (answer.notifications > 0) o.onNotifications?.();
        return c.json(answer, 200);
      } catch (err) {
        o.log(`batch ${batch.batch_id} (room ${batch.room_id}): not taken: ${dbError(err)}`);
        // one transaction: nothing of it is in, the room resends the whole batch
        return refuse(c, "unavailable", 503, "unavailable", "the push store is unavailable; resend the batch");
      }
    },
  );

  app.notFound((c) => fail(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => {
    o.log(`unhandled: ${err.stack ?? err.message}`);
    return fail(c, 500, "unavailable", "internal error");
  });
  return app;
}

/** "messages.3.seq: …; …": the path names the bad item. */
export function describeIssues(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`);
  if (error.issues.length > max) parts.push(`and ${error.issues.length - max} more`);
  return parts.join("; ");
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}
