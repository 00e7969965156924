// The sink's HTTP API (README.md has the contract). Errors use the protocol's shape,
// {error:{code, message}}, so the ChatRoom outbox can tell "fix the batch" (400) from
// "try again later" (503).
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import {
  ARCHIVE_BATCH_MAX_BYTES,
  ArchiveBatch,
  ArchiveHistoryQuery,
  Id,
  type ArchiveLastSeq,
  type ErrorBody,
  type ErrorCode,
} from "../protocol/index.js";
import { bearerAuth } from "../lib/service-auth/index.js";
import { SINK_AUTH_SCHEME } from "../protocol/index.js";
import type { ErrorKind, SinkMetrics } from "./metrics.js";
import type { ArchiveStore } from "./store.js";

export interface AppOptions {
  store: ArchiveStore;
  secret: string;
  metrics: SinkMetrics;
  log?: (line: string) => void;
  /** how long /readyz waits for the store */
  readyTimeoutMs?: number;
  maxBodyBytes?: number;
}

/** the retry hint a 503 carries; the outbox backs off on its own schedule too */
const RETRY_AFTER_MS = 1000;

export function createApp(o: AppOptions): Hono {
  const app = new Hono();
  const log = o.log ?? (() => {});
  const fail = (
    c: Context,
    status: ContentfulStatusCode,
    code: ErrorCode,
    kind: ErrorKind,
    message: string,
    retry = false,
  ) => {
    o.metrics.errors.inc({ kind });
    const body: ErrorBody = { error: { code, message, ...(retry ? { retry_after_ms: RETRY_AFTER_MS } : {}) } };
    if (retry) c.header("retry-after", String(Math.ceil(RETRY_AFTER_MS / 1000)));
    return c.json(body, status);
  };
  const storeLabel = { store: o.store.kind };

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    try {
      await withTimeout(o.store.ping(), o.readyTimeoutMs ?? 2000, "the store did not answer in time");
      return c.json({ status: "ready", store: o.store.kind });
    } catch (err) {
      return fail(
        c,
        503,
        "unavailable",
        "not_ready",
        `${o.store.kind} store not reachable: ${(err as Error).message}`,
        true,
      );
    }
  });

  app.get("/metrics", async (c) =>
    c.body(await o.metrics.registry.metrics(), 200, { "content-type": o.metrics.registry.contentType }),
  );

  app.use(
    "/v1/*",
    bearerAuth(SINK_AUTH_SCHEME, o.secret, (c, why) => fail(c, 401, "unauthorized", "unauthorized", why)),
  );

  app.post(
    "/v1/batches",
    bodyLimit({
      maxSize: o.maxBodyBytes ?? ARCHIVE_BATCH_MAX_BYTES,
      onError: (c) =>
        fail(
          c,
          413,
          "too_large",
          "too_large",
          `a batch may be at most ${o.maxBodyBytes ?? ARCHIVE_BATCH_MAX_BYTES} bytes; split it`,
        ),
    }),
    async (c) => {
      let json: unknown;
      try {
        json = JSON.parse(await c.req.text());
      } catch {
        return fail(c, 400, "invalid", "invalid", "the body must be a JSON object");
      }
      const parsed = ArchiveBatch.safeParse(json);
      if (!parsed.success)
        return fail(c, 400, "invalid", "invalid", `batch refused, nothing written: ${describeIssues(parsed.error)}`);
      const batch = parsed.data;
      const t = performance.now();
      try {
        const result = await o.store.writeBatch(batch);
        o.metrics.writeSeconds.observe(storeLabel, (performance.now() - t) / 1000);
        o.metrics.batchItems.observe({ kind: "messages" }, batch.messages.length);
        o.metrics.batchItems.observe({ kind: "read_offsets" }, batch.read_offsets.length);
        o.metrics.itemsWritten.inc({ kind: "messages" }, result.messages - result.expired);
        o.metrics.itemsWritten.inc({ kind: "read_offsets" }, result.read_offsets);
        if (result.expired) o.metrics.expired.inc(result.expired);
        return c.json(result, 200);
      } catch (err) {
        log(`batch ${batch.batch_id}: write failed: ${(err as Error).message}`);
        // Some rows may be in: that is fine, the retry rewrites the same cells.
        return fail(
          c,
          503,
          "unavailable",
          "store_write",
          `archive store unavailable, retry the whole batch: ${(err as Error).message}`,
          true,
        );
      }
    },
  );

  app.get("/v1/rooms/:room_id/messages", async (c) => {
    const room = Id.safeParse(c.req.param("room_id"));
    if (!room.success) return fail(c, 400, "invalid", "invalid", "room_id: must be a UUID");
    const query = parseQuery(c, ArchiveHistoryQuery);
    if (!query.success) return fail(c, 400, "invalid", "invalid", query.message);
    const t = performance.now();
    try {
      const page = await o.store.readHistory(room.data.toLowerCase(), query.data);
      o.metrics.readSeconds.observe({ ...storeLabel, op: "history" }, (performance.now() - t) / 1000);
      return c.json(page, 200);
    } catch (err) {
      log(`history ${room.data}: read failed: ${(err as Error).message}`);
      return fail(c, 503, "unavailable", "store_read", `archive store unavailable: ${(err as Error).message}`, true);
    }
  });

  // a room's one-value reads: read offsets, and the highest seq ever archived
  const roomRead = (route: string, op: string, what: string, read: (roomId: string) => Promise<unknown>) =>
    app.get(`/v1/rooms/:room_id/${route}`, async (c) => {
      const room = Id.safeParse(c.req.param("room_id"));
      if (!room.success) return fail(c, 400, "invalid", "invalid", "room_id: must be a UUID");
      if (new URL(c.req.url).search.length > 1)
        return fail(c, 400, "invalid", "invalid", "this route takes no query parameters");
      const t = performance.now();
      try {
        const answer = await read(room.data.toLowerCase());
        o.metrics.readSeconds.observe({ ...storeLabel, op }, (performance.now() - t) / 1000);
        return c.json(answer as object, 200);
      } catch (err) {
        log(`${what} ${room.data}: read failed: ${(err as Error).message}`);
        return fail(c, 503, "unavailable", "store_read", `archive store unavailable: ${(err as Error).message}`, true);
      }
    });
  roomRead("read-offsets", "read_offsets", "read offsets", (room) => o.store.readOffsets(room));
  roomRead("last-seq", "last_seq", "last seq", async (room): Promise<ArchiveLastSeq> => ({
    last_seq: await o.store.lastSeq(room),
  }));

  app.notFound((c) =>
    fail(c, 404, "not_found", "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
  );
  app.onError((err, c) => {
    log(`unhandled: ${err.stack ?? err.message}`);
    return fail(c, 500, "unavailable", "internal", "internal error");
  });
  return app;
}

/** "messages.3.body: body must be at most …; …": the path names the bad item. */
export function describeIssues(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`);
  if (error.issues.length > max) parts.push(`and ${error.issues.length - max} more`);
  return parts.join("; ");
}

function parseQuery<T extends z.ZodType>(
  c: Context,
  schema: T,
): { success: true; data: z.infer<T> } | { success: false; message: string } {
  const all = c.req.queries();
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) {
    if (v.length !== 1) return { success: false, message: `${k}: give it once` };
    flat[k] = v[0]!;
  }
  const parsed = schema.safeParse(flat);
  return parsed.success
    ? { success: true, data: parsed.data }
    : { success: false, message: describeIssues(parsed.error) };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}
