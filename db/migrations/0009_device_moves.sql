DROP INDEX "user_devices_platform_token_key";--> statement-breakpoint
DROP INDEX "user_devices_user_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "user_devices_active_token_key" ON "user_devices" USING btree ("platform","token") WHERE active;--> statement-breakpoint
CREATE UNIQUE INDEX "user_devices_user_token_key" ON "user_devices" USING btree ("user_id","platform","token");