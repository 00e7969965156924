import { describe, expect, it } from "vitest";
import type { Message } from "../../protocol/index.js";
import { ArchiveBatch } from "../../protocol/index.js";
import { backoffMs, buildBatch, toArchiveMessage, type OutboxRow } from "./outbox.js";

const room = "6c1a4a52-8b1e-4b8e-9a3e-0e4a1c2b3d4e";
const user = "0b6c5bb5-5d3f-4a43-9b2f-3f7b3b4f5e61";
const msg = (seq: number): Message => ({
  room_id: room,
  seq,
  message_id: "683c8ac0-e84d-11f1-96d5-836f6a30c99a",
  sender_id: user,
  client_message_id: `c${seq}`,
  body: "x".repeat(100),
  mentions: [],
  mention_all: false,
  created_at: "2026-11-24T00:00:00.000Z",
});
const row = (id: number, kind: string, seq: number | null, payload: unknown = null): OutboxRow => ({
  id,
  kind,
  seq,
  payload,
  created_at: 0,
});

describe("backoffMs", () => {
  it("grows exponentially up to the cap, with jitter below the ceiling", () => {
    const s = { backoffBaseMs: 500, backoffMaxMs: 10_000 };
    expect(backoffMs(1, s, () => 1)).toBe(500);
    expect(backoffMs(3, s, () => 1)).toBe(2000);
    expect(backoffMs(20, s, () => 1)).toBe(10_000);
    expect(backoffMs(20, s, () => 0)).toBe(250);
  });
});

describe("buildBatch", () => {
  it("makes one valid archive batch, newest read offset per reader, skipping messages already gone", () => {
    const rows = [
      row(1, "message", 1),
      row(2, "read", null, { room_id: room, user_id: user, read_seq: 1, updated_at: "2026-11-24T00:00:01.000Z" }),
      row(3, "message", 2),
      row(4, "read", null, { room_id: room, user_id: user, read_seq: 2, updated_at: "2026-11-24T00:00:02.000Z" }),
    ];
    const { batch, ids } = buildBatch(rows, (seq) => (seq === 2 ? null : msg(seq)), "b1", {
      maxItems: 10,
      maxBytes: 1 << 20,
    });
    expect(ids).toEqual([1, 2, 3, 4]);
    expect(batch!.messages!.map((m) => m.seq)).toEqual([1]);
    expect(batch!.read_offsets).toEqual([expect.objectContaining({ read_seq: 2 })]);
    expect(ArchiveBatch.safeParse(batch).success).toBe(true);
  });
  it("cuts by count and by bytes", () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i + 1, "message", i + 1));
    expect(buildBatch(rows, msg, "b", { maxItems: 3, maxBytes: 1 << 20 }).ids).toEqual([1, 2, 3]);
    const one = JSON.stringify(msg(1)).length;
    expect(buildBatch(rows, msg, "b", { maxItems: 100, maxBytes: one * 2.5 }).ids).toHaveLength(2);
  });
  it("settles rows with nothing left to send without a batch", () => {
    const { batch, ids } = buildBatch([row(7, "message", 9)], () => null, "b", { maxItems: 5, maxBytes: 1000 });
    expect(batch).toBeNull();
    expect(ids).toEqual([7]);
  });
});

describe("toArchiveMessage", () => {
  it("sends a changed message as its current version, with status and updated_at; one as sent as active", () => {
    expect(ArchiveBatch.parse({ batch_id: "b", messages: [toArchiveMessage(msg(1))] }).messages[0]).toMatchObject({
      status: "active",
    });
    const changed = { updated_at: "2026-11-24T00:05:00.000Z", rev: 3 };
    const edited = toArchiveMessage({ ...msg(2), body: "new", status: "edited", ...changed });
    const deleted = toArchiveMessage({ ...msg(3), body: "", status: "deleted", ...changed });
    const [e, d] = ArchiveBatch.parse({ batch_id: "b", messages: [edited, deleted] }).messages;
    expect(e).toMatchObject({ seq: 2, body: "new", status: "edited", updated_at: changed.updated_at });
    expect(d).toMatchObject({ seq: 3, body: "", status: "deleted", updated_at: changed.updated_at });
    // the archive knows no rev; created_at (its time-to-live's start) is the message's own
    expect(e).not.toHaveProperty("rev");
    expect(e!.created_at).toBe("2026-11-24T00:00:00.000Z");
  });
});
