import { describe, expect, it } from "vitest";
import { ME, message } from "./fixtures.js";
import {
  addMessages,
  addOlderPage,
  applyUpdate,
  emptyTimeline,
  newestSeq,
  oldestSeq,
  setPending,
  type PendingSend,
} from "./timeline.js";

const pending = (id: string, body = "hi"): PendingSend => ({
  client_message_id: id,
  body,
  mentions: [],
  queued_at: "2026-05-01T12:00:00.000Z",
  state: "pending",
});

describe("timeline", () => {
  it("keeps messages in seq order, each seq once, whatever order they arrive in", () => {
    let t = addMessages(emptyTimeline(), [message(3), message(1)]);
    t = addMessages(t, [message(2), message(3), message(1)]);
    expect(t.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(oldestSeq(t)).toBe(1);
    expect(newestSeq(t)).toBe(3);
  });

  it("returns the same value when nothing changed, so a signal does not re-render", () => {
    const t = addMessages(emptyTimeline(), [message(1), message(2)]);
    expect(addMessages(t, [message(2)])).toBe(t);
    expect(addMessages(t, [])).toBe(t);
  });

  it("keeps the newest version of a message: an edit wins over an older copy from a history page", () => {
    const edited = message(2, { body: "fixed", status: "edited", rev: 4, updated_at: "2026-05-01T12:05:00.000Z" });
    let t = addMessages(emptyTimeline(), [message(1), edited]);
    t = addOlderPage(t, [message(2), message(1)], false);
    expect(t.messages[1]).toEqual(edited);
    expect(t.hasOlder).toBe(false);
    const deleted = message(2, { body: "", status: "deleted", rev: 5 });
    t = addMessages(t, [deleted]);
    expect(t.messages[1]!.status).toBe("deleted");
  });

  it("applies an update to a held message only when it is newer, and ignores one for a message not loaded", () => {
    const t = addMessages(emptyTimeline(), [message(1), message(2, { body: "v2", status: "edited", rev: 3 })]);
    const older = applyUpdate(t, message(2, { body: "v1", status: "edited", rev: 2 }));
    expect(older).toBe(t);
    const newer = applyUpdate(t, message(2, { body: "", status: "deleted", rev: 7 }));
    expect(newer.messages.map((m) => [m.seq, m.body, m.status])).toEqual([
      [1, "message 1", undefined],
      [2, "", "deleted"],
    ]);
    expect(applyUpdate(t, message(9, { rev: 8 }))).toBe(t);
  });

  it("shows the outbox's sends as pending until their message arrives, each once", () => {
    let t = setPending(emptyTimeline(), [pending("c-a", "first"), pending("c-b", "second")]);
    expect(t.pending.map((p) => p.body)).toEqual(["first", "second"]);
    t = addMessages(t, [message(5, { client_message_id: "c-a", sender_id: ME, body: "first" })]);
    expect(t.pending.map((p) => p.client_message_id)).toEqual(["c-b"]);
    expect(t.messages.map((m) => m.body)).toEqual(["first"]);
    // the outbox still lists c-a until its ack is handled: it is not shown twice
    t = setPending(t, [pending("c-a", "first"), pending("c-b", "second")]);
    expect(t.pending.map((p) => p.client_message_id)).toEqual(["c-b"]);
  });

  it("follows the outbox: a failure with its reason, a retry, a cancel", () => {
    let t = setPending(emptyTimeline(), [pending("c-a")]);
    const same = setPending(t, [pending("c-a")]);
    expect(same).toBe(t);
    t = setPending(t, [{ ...pending("c-a"), state: "failed", error: "forbidden" }]);
    expect(t.pending[0]).toMatchObject({ state: "failed", error: "forbidden" });
    t = setPending(t, [pending("c-a")]);
    expect(t.pending[0]!.state).toBe("pending");
    t = setPending(t, []);
    expect(t.pending).toEqual([]);
  });
});
