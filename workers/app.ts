// The edge HTTP API (PROTOCOL.md, prefix /v1).
import { Hono } from "hono";
import { MAX_HTTP_BODY_BYTES, type ErrorBody } from "../protocol/index.js";
import { authRoutes } from "./auth/index.js";
import { requireAuth } from "./auth/require-auth.js";
import type { AppBindings } from "./env.js";
import { bodyLimit } from "./http/body-limit.js";
import { closeDb } from "./http/db.js";
import { errorResponse } from "./http/errors.js";
import { healthRoutes } from "./health/index.js";
import { realtimeRoutes, upgradeRoutes } from "./realtime/index.js";
import { devicesRoutes } from "./devices/index.js";
import { friendsRoutes } from "./friends/index.js";
import { pushRoutes } from "./push/index.js";
import { roomsRoutes } from "./rooms/index.js";
import { usersRoutes } from "./users/index.js";

export function createApp() {
  const app = new Hono<AppBindings>().basePath("/v1");
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } } satisfies ErrorBody,
      404,
    ),
  );
  app.use(bodyLimit(MAX_HTTP_BODY_BYTES));
  app.use(closeDb);

  app.route("/", healthRoutes);
  app.route("/auth", authRoutes);
  app.route("/", pushRoutes); // /push/vapid-public-key: a browser asks before signing in
  app.route("/", upgradeRoutes); // WebSocket upgrades carry a ticket instead of a token
  // everything below needs a valid access token
  app.use("/*", requireAuth);
  app.route("/", usersRoutes); // /me, /users
  app.route("/", realtimeRoutes); // /connect/ticket, /rooms/:id/messages
  app.route("/friends", friendsRoutes);
  app.route("/rooms", roomsRoutes);
  app.route("/devices", devicesRoutes);
  return app;
}
