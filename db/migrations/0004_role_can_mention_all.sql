ALTER TABLE "chat_room_roles" ADD COLUMN "can_mention_all" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- existing groups: owners (3) and admins (2) may mention everyone, as new groups start
UPDATE "chat_room_roles" SET "can_mention_all" = true WHERE "role" IN (2, 3);
