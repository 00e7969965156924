// /v1/push: what a client needs to subscribe to pushes. Public: a browser asks before anyone signs in.
import { Hono } from "hono";
import { ConfigError } from "../../lib/config/index.js";
import type { VapidPublicKeyResponse } from "../../protocol/index.js";
import type { AppBindings } from "../env.js";
import { HttpError } from "../http/errors.js";

export const pushRoutes = new Hono<AppBindings>();

// an uncompressed P-256 point (65 bytes) in base64url, as PushManager.subscribe's applicationServerKey takes it
const VAPID_PUBLIC_KEY_FORM = /^B[A-Za-z0-9_-]{86}$/;

pushRoutes.get("/push/vapid-public-key", (c) => {
  const key = c.env.VAPID_PUBLIC_KEY?.trim();
  if (!key) throw new HttpError(404, "not_configured", "Web Push is not set up here (no VAPID_PUBLIC_KEY)");
  // a mistyped key would subscribe every browser to a key the relay cannot sign for
  if (!VAPID_PUBLIC_KEY_FORM.test(key))
    throw new ConfigError("VAPID_PUBLIC_KEY must be an uncompressed P-256 public key in base64url (87 characters)");
  c.header("cache-control", "public, max-age=300");
  return c.json({ key } satisfies VapidPublicKeyResponse);
});
