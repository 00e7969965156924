// /v1/devices: push registrations (APNs, FCM, Web Push) that the push relay sends to.
import { and, asc, eq, ne, or, sql } from "drizzle-orm";
import { Hono } from "hono";
import {
  PushEnvironment,
  PushPlatform,
  UserStatus,
  nameOf,
  userDevices,
  users,
  type DeviceRow,
} from "../../db/index.js";
import { isAllowedPushEndpoint, pushOriginRule } from "../../lib/push-origins/index.js";
import { DeviceBody, MAX_ACTIVE_DEVICES_PER_USER, type Device } from "../../protocol/index.js";
import type { DeviceListResponse, DeviceResponse } from "../../protocol/social.js";
import type { AppBindings } from "../env.js";
import { dbOf } from "../http/db.js";
import { conflict, invalid, notFound } from "../http/errors.js";
import { enforceRateLimit } from "../http/rate-limit.js";
import { idParam, readJson } from "../http/validate.js";
import { retireOtherHolder, retireOwnDevice } from "./store.js";

export const devicesRoutes = new Hono<AppBindings>();

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    platform: nameOf(PushPlatform, row.platform),
    name: row.name,
    environment: row.environment === null ? null : nameOf(PushEnvironment, row.environment),
    device_id: row.clientDeviceId,
    created_at: row.createdAt.toISOString(),
  };
}

/** One registration whichever shape it came in (this API's, or a browser's PushSubscription.toJSON()). */
interface Registration {
  platform: keyof typeof PushPlatform;
  token: string;
  keys: { p256dh: string; auth: string } | null;
  environment: keyof typeof PushEnvironment | null;
  body: DeviceBody;
}

function registrationOf(body: DeviceBody): Registration {
  switch (body.platform) {
    // APNs tokens are hex: case must not make two devices of one
    case "apns":
      return {
        platform: "apns",
        token: body.token.toLowerCase(),
        keys: null,
        environment: body.environment ?? "production",
        body,
      };
    case "fcm":
      return { platform: "fcm", token: body.token, keys: null, environment: null, body };
    default:
      // the schema lets exactly one of token and endpoint through
      return { platform: "webpush", token: (body.token ?? body.endpoint)!, keys: body.keys, environment: null, body };
  }
}

devicesRoutes.get("/", async (c) => {
  const me = c.get("auth").userId;
  const rows = await dbOf(c)
    .select()
    .from(userDevices)
    .where(and(eq(userDevices.userId, me), eq(userDevices.active, true)))
    .orderBy(asc(userDevices.createdAt), asc(userDevices.id));
  return c.json({ devices: rows.map(toDevice) } satisfies DeviceListResponse);
});

devicesRoutes.post("/", async (c) => {
  const reg = registrationOf(await readJson(c, DeviceBody));
  // Before anything is stored: the relay POSTs signed requests to this URL, so a URL of anyone's
  // choosing would make it a request forger (lib/push-origins).
  if (reg.platform === "webpush" && !isAllowedPushEndpoint(reg.token, pushOriginRule(c.env.WEBPUSH_ALLOW_ORIGINS))) {
    throw invalid(
      `the subscription endpoint ${originOf(reg.token)} is not a Web Push service this server sends to ` +
        `(allowed: the browser vendors' push services, or WEBPUSH_ALLOW_ORIGINS)`,
    );
  }
  const me = c.get("auth").userId;
  const platform = PushPlatform[reg.platform];
  const { token, body } = reg;
  const { row, movedFrom } = await dbOf(c).transaction(async (tx) => {
    // The user row lock serialises one user's registrations, so concurrent ones cannot pass the cap.
    const [owner] = await tx.select({ status: users.status }).from(users).where(eq(users.id, me)).for("update");
    if (!owner || owner.status !== UserStatus.active) throw notFound("this account no longer exists");
    // ... and this lock one token's, so two users registering it at once cannot both hold it.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`device:${platform}:${token}`}, 0))`);
    // Re-registering a token the caller already holds does not take another place.
    const [held] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(userDevices)
      .where(
        and(
          eq(userDevices.userId, me),
          eq(userDevices.active, true),
          or(ne(userDevices.platform, platform), ne(userDevices.token, token)),
        ),
      );
    if ((held?.count ?? 0) >= MAX_ACTIVE_DEVICES_PER_USER) {
      throw conflict(`at most ${MAX_ACTIVE_DEVICES_PER_USER} devices may receive pushes; remove one first`);
    }
    // A token names one installation: whoever registers it now holds it (the previous user signed
    // out there, or the app was reinstalled). The previous holder's row is retired, not rewritten,
    // so what was sent to them stays theirs in the delivery logs.
    const movedFrom = await retireOtherHolder(tx, platform, token, me, () => enforceRateLimit(c, "device_move", me));
    // everything describing the installation is replaced
    const fields = {
      active: true,
      p256dh: reg.keys?.p256dh ?? null,
      authSecret: reg.keys?.auth ?? null,
      appId: body.app_id ?? null,
      name: body.name ?? null,
      environment: reg.environment === null ? null : PushEnvironment[reg.environment],
      clientDeviceId: body.device_id ?? null,
      retiredReason: null,
      retiredAt: null,
    };
    const [saved] = await tx
      .insert(userDevices)
      .values({ userId: me, platform, token, ...fields })
      .onConflictDoUpdate({
        target: [userDevices.userId, userDevices.platform, userDevices.token],
        set: { ...fields, updatedAt: sql`now()` },
      })
      .returning();
    return { row: saved!, movedFrom };
  });
  // The move's record is the retired row itself (reason "moved", retired_at); this line says where it went.
  if (movedFrom)
    console.log(
      JSON.stringify({
        event: "push_token_moved",
        platform: reg.platform,
        from_user: movedFrom.userId,
        from_device: movedFrom.id,
        to_user: me,
        to_device: row.id,
      }),
    );
  return c.json({ device: toDevice(row) } satisfies DeviceResponse, 201);
});

/** The origin of an endpoint for an error message (never the path: it is the subscription's secret). */
function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return "(unparsable)";
  }
}

devicesRoutes.delete("/:id", async (c) => {
  const id = idParam(c, "id");
  // Logical delete: the row stays for the push delivery logs that point at it.
  if (!(await retireOwnDevice(dbOf(c), c.get("auth").userId, id))) throw notFound("no such device");
  return c.body(null, 204);
});
