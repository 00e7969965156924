import { describe, expect, it } from "vitest";
import { Outbox, refusalAction, unavailableDelayMs } from "./outbox.js";
import { memoryStorage } from "./storage.js";

const ROOM = "0b6c2f0e-8f43-4d6a-9d2b-6a0c8f0e4d11";
const OTHER = "1b6c2f0e-8f43-4d6a-9d2b-6a0c8f0e4d11";
const send = (room: string, id: string, body = id) => ({
  type: "send" as const,
  room_id: room,
  client_message_id: id,
  body,
});

describe("the outbox", () => {
  it("keeps each room's items in queue order, and a reloaded outbox finds them as they were", async () => {
    const storage = memoryStorage();
    const box = new Outbox(storage, "ns:outbox:u1:");
    await box.add("send", send(ROOM, "m1"), "m1");
    await box.add("send", send(OTHER, "m2"), "m2");
    await box.add("send", send(ROOM, "m3"), "m3");
    expect(box.list(ROOM).map((i) => i.id)).toEqual(["m1", "m3"]);
    expect(box.nextPending(ROOM)?.id).toBe("m1");
    expect(box.roomsPending().sort()).toEqual([ROOM, OTHER].sort());

    const reloaded = new Outbox(storage, "ns:outbox:u1:");
    await reloaded.load();
    expect(reloaded.list(ROOM)).toEqual(box.list(ROOM));
    expect(reloaded.get("m3")?.frame).toEqual(send(ROOM, "m3"));
    // another user's outbox over the same storage sees none of it
    const stranger = new Outbox(storage, "ns:outbox:u2:");
    await stranger.load();
    expect(stranger.roomsPending()).toEqual([]);
    // items queued after a reload come after the loaded ones
    await reloaded.add("send", send(ROOM, "m4"), "m4");
    expect(reloaded.list(ROOM).map((i) => i.id)).toEqual(["m1", "m3", "m4"]);
  });

  it("a failed item stops being next, keeps its reason, and goes to the end of the queue when retried", async () => {
    const storage = memoryStorage();
    const box = new Outbox(storage, "p:");
    await box.add("send", send(ROOM, "a"), "a");
    await box.add("send", send(ROOM, "b"), "b");
    await box.fail("a", { code: "forbidden", message: "no" });
    expect(box.nextPending(ROOM)?.id).toBe("b");
    expect(box.get("a")).toMatchObject({ status: "failed", error: { code: "forbidden" } });
    await box.requeue("a");
    expect(box.list(ROOM).map((i) => [i.id, i.status])).toEqual([
      ["b", "pending"],
      ["a", "pending"],
    ]);
    expect(box.get("a")?.error).toBeUndefined();
    const reloaded = new Outbox(storage, "p:");
    await reloaded.load();
    expect(reloaded.nextPending(ROOM)?.id).toBe("b");
  });

  it("forgets an item at once when it is done, and in storage too", async () => {
    const storage = memoryStorage();
    const box = new Outbox(storage, "p:");
    await box.add("delete", { type: "delete", id: "op1", room_id: ROOM, seq: 3, op_id: "op1" }, "op1");
    const stored = box.remove("op1");
    expect(box.get("op1")).toBeUndefined();
    await stored;
    expect(await storage.entries("p:")).toEqual([]);
    await box.add("send", send(ROOM, "x"), "x");
    await box.clear();
    expect(await storage.entries("p:")).toEqual([]);
  });

  it("waits out rate limits, retries what was unavailable with growing delays, and fails the rest", () => {
    expect(refusalAction("rate_limited")).toBe("wait");
    expect(refusalAction("unavailable")).toBe("retry");
    for (const code of ["forbidden", "invalid", "not_found", "too_large", "conflict"])
      expect(refusalAction(code)).toBe("fail");
    expect([1, 2, 3, 10].map(unavailableDelayMs)).toEqual([1000, 2000, 4000, 30_000]);
  });
});
