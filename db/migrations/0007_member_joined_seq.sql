ALTER TABLE "chat_members" ADD COLUMN "joined_seq" bigint;--> statement-breakpoint
-- members who joined with their room (within a minute of its creation) saw it from the start;
-- for later ones the start is unknown (null) until their room records it
UPDATE "chat_members" m SET "joined_seq" = 0 FROM "chat_rooms" r WHERE r."id" = m."room_id" AND m."joined_at" <= r."created_at" + interval '1 minute';
