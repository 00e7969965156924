// The push store: what was sent to offline members and how each delivery attempt went.
// Previews (title/body) are message content, so retention deletes them with the messages.
import { bigint, bigserial, index, integer, pgTable, smallint, text, uuid } from "drizzle-orm/pg-core";
import { at, createdAt } from "./columns.js";

export const pushNotifications = pgTable(
  "push_notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull(),
    roomId: uuid("room_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    collapseKey: text("collapse_key").notNull(),
    title: text("title"),
    body: text("body"),
    status: smallint("status").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("push_notifications_user_idx").on(t.userId, t.createdAt),
    index("push_notifications_created_idx").on(t.createdAt),
  ],
);

export const pushDeliveryLogs = pgTable(
  "push_delivery_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    notificationId: uuid("notification_id")
      .notNull()
      .references(() => pushNotifications.id),
    deviceId: uuid("device_id").notNull(),
    platform: smallint("platform").notNull(),
    attempt: integer("attempt").notNull(),
    outcome: smallint("outcome").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    at: at(),
  },
  (t) => [index("push_delivery_logs_notification_idx").on(t.notificationId)],
);
