import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { AppBindings } from "../env.js";
import { describeError } from "../../db/index.js";
import { dbOf } from "../http/db.js";
import { HttpError } from "../http/errors.js";

export const healthRoutes = new Hono<AppBindings>();

// Liveness: the edge runs. Cheap enough for every load balancer probe.
healthRoutes.get("/healthz", (c) => c.json({ ok: true }));

// Readiness: the edge can reach its database.
healthRoutes.get("/readyz", async (c) => {
  try {
    await dbOf(c).execute(sql`select 1`);
  } catch (err) {
    // the driver's message names hosts, databases and users (and sometimes why a password failed):
    // the operator reads it in the log, a probe gets only the verdict
    console.error(`readyz: ${describeError(err)}`);
    throw new HttpError(503, "unavailable", "database unreachable");
  }
  return c.json({ ok: true, database: "ok" });
});
