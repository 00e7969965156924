ALTER TABLE "push_delivery_logs" ADD COLUMN "seq" bigint;--> statement-breakpoint
ALTER TABLE "push_notifications" ADD COLUMN "failed_reason" text;