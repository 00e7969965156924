// The user_devices writes that retire tokens, shared by the devices routes and logout.
import { and, eq, ne, sql } from "drizzle-orm";
import { DeviceRetiredReason, userDevices, type Exec } from "../../db/index.js";

const retired = (reason: string) => ({
  active: false,
  retiredReason: reason,
  retiredAt: sql`now()`,
  updatedAt: sql`now()`,
});

/**
 * Retires the active row of this token that another user holds, once `admit` (the move's rate
 * limit, which throws to refuse it and so rolls the caller's transaction back) let it. Returns it.
 */
export async function retireOtherHolder(
  tx: Exec,
  platform: number,
  token: string,
  me: string,
  admit: () => Promise<void>,
): Promise<{ id: string; userId: string } | null> {
  const [other] = await tx
    .select({ id: userDevices.id, userId: userDevices.userId })
    .from(userDevices)
    .where(
      and(
        eq(userDevices.platform, platform),
        eq(userDevices.token, token),
        eq(userDevices.active, true),
        ne(userDevices.userId, me),
      ),
    );
  if (!other) return null;
  await admit();
  await tx.update(userDevices).set(retired(DeviceRetiredReason.moved)).where(eq(userDevices.id, other.id));
  return other;
}

/** DELETE /devices/:id: the caller's own active device; null when there is none. */
export async function retireOwnDevice(db: Exec, userId: string, id: string): Promise<{ id: string } | null> {
  const [row] = await db
    .update(userDevices)
    .set(retired(DeviceRetiredReason.removed))
    .where(and(eq(userDevices.id, id), eq(userDevices.userId, userId), eq(userDevices.active, true)))
    .returning({ id: userDevices.id });
  return row ?? null;
}

/** Logout of one client device: the push tokens it registered stop receiving. */
export async function retireClientDevice(db: Exec, userId: string, clientDeviceId: string): Promise<number> {
  const rows = await db
    .update(userDevices)
    .set(retired(DeviceRetiredReason.logout))
    .where(
      and(eq(userDevices.userId, userId), eq(userDevices.clientDeviceId, clientDeviceId), eq(userDevices.active, true)),
    )
    .returning({ id: userDevices.id });
  return rows.length;
}
