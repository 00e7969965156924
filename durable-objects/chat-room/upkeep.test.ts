import { describe, expect, it } from "vitest";
import type { RoomMeta } from "./store.js";
import { Upkeep } from "./upkeep.js";

const DAY = 86_400_000;
function fake(
  over: Partial<RoomMeta> = {},
  opts: { oldest?: number | null; here?: boolean; pgDown?: boolean; unarchived?: boolean } = {},
) {
  const meta: RoomMeta = {
    room_id: "r",
    type: "direct",
    version: 1,
    active: true,
    last_seq: 0,
    last_activity: 0,
    ...over,
  };
  const log: string[] = [];
  let maintenanceAt: number | null = null;
  const upkeep = new Upkeep(
    {
      meta: () => meta,
      maintenanceAt: () => maintenanceAt,
      setMaintenanceAt: (at) => void (maintenanceAt = at),
      oldestMessageAt: () => opts.oldest ?? null,
      prune: (now) => void log.push(`prune ${now}`),
      anyoneHere: () => opts.here ?? false,
      archived: () => !opts.unarchived,
      markCleaned: async () => {
        if (opts.pgDown) throw new Error("down");
        log.push("cleaned");
      },
      dropEverything: async () => void log.push("dropped"),
    },
    { retentionMs: 183 * DAY, emptyRoomTtlMs: 3_600_000 },
  );
  return { upkeep, log };
}

describe("Upkeep", () => {
  it("is due exactly when the oldest message passes retention, even in a room nobody touches", async () => {
    const { upkeep, log } = fake({ last_seq: 5 }, { oldest: 1000 });
    expect(upkeep.dueAt(0)).toBe(0); // never ran: at once
    await upkeep.run(10);
    expect(log).toEqual(["prune 10"]);
    expect(upkeep.dueAt(10)).toBe(Math.min(1000 + 183 * DAY, 10 + 6 * 3600_000));
  });
  it("cleans an empty room idle past the limit, PostgreSQL first, and stops", async () => {
    const { upkeep, log } = fake();
    expect(upkeep.dueAt(0)).toBe(3_600_000);
    expect(await upkeep.run(3_600_000)).toBe("stop");
    expect(log).toEqual(["prune 3600000", "cleaned", "dropped"]);
  });
  it("keeps a room with messages, or with someone here, and retries a cleanup PostgreSQL refused", async () => {
    // a room with messages is due only for upkeep (never run: now), never for cleanup
    const used = fake({ last_seq: 1 }, { oldest: 500 });
    expect(used.upkeep.dueAt(7)).toBe(7);
    await used.upkeep.run(3_600_000);
    expect(used.log).toEqual(["prune 3600000"]);
    expect(fake({}, { here: true }).upkeep.dueAt(0)).toBeNull();
    const down = fake({}, { pgDown: true });
    expect(await down.upkeep.run(3_600_000)).toBeUndefined();
    expect(down.log).not.toContain("dropped");
    expect(down.upkeep.dueAt(3_600_000)).toBe(3_660_000);
  });
  it("never removes a quiet group, however long it idles", async () => {
    const { upkeep, log } = fake({ type: "group" });
    expect(upkeep.dueAt(0)).toBeNull();
    expect(await upkeep.run(100 * 3_600_000)).toBeUndefined();
    expect(log).not.toContain("cleaned");
    expect(log).not.toContain("dropped");
  });
  it("drops the storage of a room PostgreSQL closed, once the archive holds everything", async () => {
    const waiting = fake({ type: "group", active: false, last_seq: 3 }, { oldest: 1, unarchived: true });
    expect(await waiting.upkeep.run(50)).toBeUndefined();
    expect(waiting.log).not.toContain("dropped");
    const { upkeep, log } = fake({ type: "group", active: false, last_seq: 3 }, { oldest: 1 });
    expect(upkeep.dueAt(50)).toBe(50);
    expect(await upkeep.run(50)).toBe("stop");
    // PostgreSQL already says the room is gone: nothing to mark there
    expect(log).toEqual(["dropped"]);
  });
});
