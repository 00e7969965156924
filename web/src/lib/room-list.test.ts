import { describe, expect, it } from "vitest";
import { entry, message } from "./fixtures.js";
import { applyActivity, markRead, noteMessage, sortByActivity, totalUnread, upsertRoom } from "./room-list.js";

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "aaaaaaaa-0000-4000-8000-000000000002";
const C = "aaaaaaaa-0000-4000-8000-000000000003";

describe("room list", () => {
  const list = sortByActivity([
    entry(A, {}, "2026-05-01T09:00:00.000Z"),
    entry(B, { last_message: message(3, { room_id: B }) }),
    entry(C, {}, "2026-05-01T11:00:00.000Z"),
  ]);

  it("puts the latest activity first: the last message's time, or the room's creation", () => {
    expect(list.map((e) => e.room.id)).toEqual([B, C, A]);
  });

  it("moves a room with new activity to the front with its unread count and message", () => {
    const m = message(1, { room_id: A, created_at: "2026-05-02T00:00:00.000Z" });
    const next = applyActivity(list, { room_id: A, unread_count: 1, message: m });
    expect(next.map((e) => e.room.id)).toEqual([A, B, C]);
    expect(next[0]).toMatchObject({ unread_count: 1, last_message: m });
    expect(totalUnread(next)).toBe(1);
    expect(totalUnread(next.map((e) => ({ ...e, muted: true })))).toBe(0);
  });

  it("keeps the newer last message when an older one comes late, but takes a newer version of it", () => {
    const withLast = upsertRoom(list, entry(A, { last_message: message(5, { room_id: A }) }));
    expect(noteMessage(withLast, message(4, { room_id: A })).find((e) => e.room.id === A)!.last_message!.seq).toBe(5);
    const deleted = message(5, { room_id: A, status: "deleted", body: "", rev: 2 });
    expect(noteMessage(withLast, deleted).find((e) => e.room.id === A)!.last_message).toEqual(deleted);
  });

  it("clears unread up to what was read, never backwards", () => {
    const unread = upsertRoom(
      list,
      entry(A, { last_message: message(6, { room_id: A }), unread_count: 4, read_seq: 2 }),
    );
    const half = markRead(unread, A, 4).find((e) => e.room.id === A)!;
    expect(half).toMatchObject({ read_seq: 4, unread_count: 2 });
    const all = markRead(markRead(unread, A, 6), A, 3).find((e) => e.room.id === A)!;
    expect(all).toMatchObject({ read_seq: 6, unread_count: 0 });
  });
});
