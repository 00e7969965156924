CREATE TABLE "push_batches" (
	"batch_id" text PRIMARY KEY NOT NULL,
	"room_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "push_unread" (
	"user_id" uuid NOT NULL,
	"room_id" uuid NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"read_seq" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "push_unread_user_id_room_id_pk" PRIMARY KEY("user_id","room_id")
);
--> statement-breakpoint
ALTER TABLE "user_devices" ADD COLUMN "environment" smallint;--> statement-breakpoint
ALTER TABLE "user_devices" ADD COLUMN "client_device_id" text;--> statement-breakpoint
ALTER TABLE "user_devices" ADD COLUMN "retired_reason" text;--> statement-breakpoint
ALTER TABLE "user_devices" ADD COLUMN "retired_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "push_delivery_logs" ADD COLUMN "latency_ms" integer;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "count" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "sender_id" uuid;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "mentioned" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "scheduled_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "sent_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "read_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "push_batches_received_idx" ON "push_batches" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "user_devices_client_device_idx" ON "user_devices" USING btree ("user_id","client_device_id");--> statement-breakpoint
CREATE INDEX "push_delivery_logs_at_idx" ON "push_delivery_logs" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "push_notifications_pending_key" ON "push_notifications" USING btree ("user_id","room_id") WHERE status = 1;--> statement-breakpoint
CREATE INDEX "push_notifications_due_idx" ON "push_notifications" USING btree ("scheduled_at") WHERE status = 1;