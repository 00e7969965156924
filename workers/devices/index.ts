// /v1/devices: push registrations (APNs, FCM, Web Push) that the push relay sends to.
import { and, eq, ne, or, sql } from "drizzle-orm";
import { Hono } from "hono";
import { PushPlatform, UserStatus, nameOf, userDevices, users, type DeviceRow } from "../../db/index.js";
import { DeviceBody, MAX_ACTIVE_DEVICES_PER_USER, type Device } from "../../protocol/index.js";
import type { DeviceResponse } from "../../protocol/social.js";
import type { AppBindings } from "../env.js";
import { dbOf } from "../http/db.js";
import { conflict, notFound } from "../http/errors.js";
import { idParam, readJson } from "../http/validate.js";

export const devicesRoutes = new Hono<AppBindings>();

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    platform: nameOf(PushPlatform, row.platform),
    name: row.name,
    created_at: row.createdAt.toISOString(),
  };
}

/** A token as the push service knows it: APNs tokens are hex, so case must not make two devices of one. */
function canonicalToken(body: DeviceBody): string {
  return body.platform === "apns" ? body.token.toLowerCase() : body.token;
}

devicesRoutes.post("/", async (c) => {
  const body = await readJson(c, DeviceBody);
  const me = c.get("auth").userId;
  const platform = PushPlatform[body.platform];
  const token = canonicalToken(body);
  const keys = body.platform === "webpush" ? body.keys : null;
  const row = await dbOf(c).transaction(async (tx) => {
    // The user row lock serialises one user's registrations, so concurrent ones cannot pass the cap.
    const [owner] = await tx.select({ status: users.status }).from(users).where(eq(users.id, me)).for("update");
    if (!owner || owner.status !== UserStatus.active) throw notFound("this account no longer exists");
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
    // A token names one installation: whoever registers it now owns it (the previous user signed
    // out there, or the app was reinstalled), and everything describing it is replaced.
    const fields = {
      userId: me,
      active: true,
      p256dh: keys?.p256dh ?? null,
      authSecret: keys?.auth ?? null,
      appId: body.app_id ?? null,
      name: body.name ?? null,
    };
    const [saved] = await tx
      .insert(userDevices)
      .values({ platform, token, ...fields })
      .onConflictDoUpdate({
        target: [userDevices.platform, userDevices.token],
        set: { ...fields, updatedAt: sql`now()` },
      })
      .returning();
    return saved!;
  });
  return c.json({ device: toDevice(row) } satisfies DeviceResponse, 201);
});

devicesRoutes.delete("/:id", async (c) => {
  const id = idParam(c, "id");
  const me = c.get("auth").userId;
  // Logical delete: the row stays for the push delivery logs that point at it.
  const [row] = await dbOf(c)
    .update(userDevices)
    .set({ active: false, updatedAt: sql`now()` })
    .where(and(eq(userDevices.id, id), eq(userDevices.userId, me), eq(userDevices.active, true)))
    .returning({ id: userDevices.id });
  if (!row) throw notFound("no such device");
  return c.body(null, 204);
});
