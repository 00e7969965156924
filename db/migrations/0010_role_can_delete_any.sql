ALTER TABLE "chat_room_roles" ADD COLUMN "can_delete_any" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- existing groups: owners (3) and admins (2) may delete anyone's message, as new groups start
UPDATE "chat_room_roles" SET "can_delete_any" = true WHERE "role" IN (2, 3);
