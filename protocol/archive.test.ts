// The archive wire contract: what the sink accepts and how it normalises it.
import { describe, expect, it } from "vitest";
import { ArchiveBatch, ArchiveHistoryQuery, ArchiveMessage } from "./archive.js";

const room = "8c5a5c2e-3c34-4d3a-9f7b-2b5e2b8e9a10";
const base = {
  room_id: room,
  seq: 1,
  message_id: "5e2f8a40-1d1c-11ef-8000-0242ac120002",
  sender_id: room,
  client_message_id: "c-1",
  body: "hi",
  created_at: "2026-01-01T00:00:00Z",
};

describe("protocol/archive", () => {
  it("accepts a minimal message and fills the defaults", () => {
    expect(ArchiveMessage.parse(base)).toEqual({
      ...base,
      created_at: "2026-01-01T00:00:00.000Z",
      mentions: [],
      mention_all: false,
      attachments: [],
      status: "active",
    });
  });

  it("takes only version-1 (time) UUIDs as message ids, and lowercases ids", () => {
    expect(ArchiveMessage.safeParse({ ...base, message_id: "5e2f8a40-1d1c-41ef-8000-0242ac120002" }).success).toBe(
      false,
    ); // v4
    expect(ArchiveMessage.safeParse({ ...base, message_id: "5e2f8a40-1d1c-11ef-c000-0242ac120002" }).success).toBe(
      false,
    ); // wrong variant
    const up = ArchiveMessage.parse({
      ...base,
      message_id: base.message_id.toUpperCase(),
      room_id: room.toUpperCase(),
    });
    expect([up.message_id, up.room_id]).toEqual([base.message_id, room]);
  });

  it("bounds batches and refuses empty ones and unknown fields", () => {
    expect(ArchiveBatch.safeParse({ batch_id: "b" }).success).toBe(false);
    expect(ArchiveBatch.safeParse({ batch_id: "b", messages: [base], extra: true }).success).toBe(false);
    expect(ArchiveBatch.safeParse({ batch_id: "x".repeat(129), messages: [base] }).success).toBe(false);
    expect(ArchiveBatch.safeParse({ batch_id: "b", messages: [base] }).success).toBe(true);
    expect(ArchiveMessage.safeParse({ ...base, mentions: Array(101).fill(room) }).success).toBe(false);
  });

  it("parses history queries strictly, with limit 50 by default and at most 100", () => {
    expect(ArchiveHistoryQuery.parse({})).toEqual({ limit: 50 });
    expect(ArchiveHistoryQuery.parse({ after_seq: "0", limit: "100" })).toEqual({ after_seq: 0, limit: 100 });
    for (const bad of [
      { limit: "101" },
      { limit: "0" },
      { before_seq: "0" },
      { before_seq: "1.5" },
      { after_seq: "-1" },
      { after_seq: "3", before_seq: "3" },
      { page: "2" },
    ]) {
      expect(ArchiveHistoryQuery.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
