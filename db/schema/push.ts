// The push store: what offline members were told and how each delivery attempt went.
//   push_notifications  one row per (recipient, room) while it waits to be sent: the messages of
//                       a burst update it (latest seq, count) instead of adding rows, so a busy
//                       room is one banner; once sent, the next message starts a new row. A read
//                       offset that passes its seq sets read_at.
//   push_delivery_logs  one row per device attempt with the provider's answer.
//   push_unread         each user's unread count per room as the room last reported it (set from
//                       last_seq - read_seq, never incremented): the APNs badge is their sum.
//   push_batches        the batch ids taken from rooms, so a resent batch is not told twice.
// Previews (title/body) are message content: retention clears them with the messages.
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { at, createdAt, updatedAt } from "./columns.js";

const when = (name: string) => timestamp(name, { withTimezone: true });

export const pushNotifications = pgTable(
  "push_notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull(),
    roomId: uuid("room_id").notNull(),
    /** the latest message it tells of */
    seq: bigint("seq", { mode: "number" }).notNull(),
    /** messages it tells of (a burst collapses into one row) */
    count: integer("count").notNull().default(1),
    senderId: uuid("sender_id"),
    mentioned: boolean("mentioned").notNull().default(false),
    collapseKey: text("collapse_key").notNull(),
    title: text("title"),
    body: text("body"),
    /** PushStatus */
    status: smallint("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** when the dispatcher next takes it (a retry's backoff, or a provider's Retry-After) */
    scheduledAt: when("scheduled_at").notNull().defaultNow(),
    sentAt: when("sent_at"),
    readAt: when("read_at"),
    /** why it was given up (status failed): no_active_device, retries_spent, refused, expired */
    failedReason: text("failed_reason"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("push_notifications_user_idx").on(t.userId, t.createdAt),
    index("push_notifications_created_idx").on(t.createdAt),
    // the one row a burst updates
    uniqueIndex("push_notifications_pending_key")
      .on(t.userId, t.roomId)
      .where(sql`status = 1`),
    index("push_notifications_due_idx")
      .on(t.scheduledAt)
      .where(sql`status = 1`),
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
    /** the notification's seq this attempt told of: a device that has it is not sent it again */
    seq: bigint("seq", { mode: "number" }),
    /** PushOutcome */
    outcome: smallint("outcome").notNull(),
    statusCode: integer("status_code"),
    /** the provider's reason (BadDeviceToken, UNREGISTERED, …) or the transport error */
    error: text("error"),
    latencyMs: integer("latency_ms"),
    at: at(),
  },
  (t) => [
    index("push_delivery_logs_notification_idx").on(t.notificationId),
    index("push_delivery_logs_at_idx").on(t.at),
  ],
);

export const pushUnread = pgTable(
  "push_unread",
  {
    userId: uuid("user_id").notNull(),
    roomId: uuid("room_id").notNull(),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    readSeq: bigint("read_seq", { mode: "number" }).notNull().default(0),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.roomId] })],
);

export const pushBatches = pgTable(
  "push_batches",
  {
    batchId: text("batch_id").primaryKey(),
    roomId: uuid("room_id").notNull(),
    receivedAt: when("received_at").notNull().defaultNow(),
  },
  (t) => [index("push_batches_received_idx").on(t.receivedAt)],
);

export type PushNotificationRow = typeof pushNotifications.$inferSelect;
