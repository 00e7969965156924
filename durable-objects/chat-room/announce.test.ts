import { describe, expect, it } from "vitest";
import { Announcements, announceTo } from "./announce.js";

describe("announceTo", () => {
  it("calls each user once, at most `parallelism` at a time, and counts failures without throwing", async () => {
    let inFlight = 0;
    let most = 0;
    const called: string[] = [];
    const result = await announceTo(["a", "b", "a", "c", "d", "e"], 2, async (u) => {
      called.push(u);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (u === "d") throw new Error("session unreachable");
    });
    expect(called.sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(most).toBe(2);
    expect(result).toEqual({ sent: 4, failed: 1 });
  });
});

describe("Announcements", () => {
  it("queues events for the alarm, asks for it at once, and sends each batch once", async () => {
    const wakes: number[] = [];
    const sent: string[] = [];
    const a = new Announcements<string>(
      async (u, e) => void sent.push(`${u}:${e}`),
      4,
      (at) => wakes.push(at),
      () => 100,
    );
    expect(a.dueAt(100)).toBeNull();
    a.add([], "created");
    expect(wakes).toEqual([]);
    a.add(["a", "b"], "created");
    a.add(["c"], "member_added");
    expect(wakes).toEqual([100, 100]);
    expect(a.dueAt(100)).toBe(100);
    // nothing leaves before the alarm runs the job
    expect(sent).toEqual([]);
    await a.run();
    expect(sent.sort()).toEqual(["a:created", "b:created", "c:member_added"]);
    expect(a.dueAt(200)).toBeNull();
    await a.run();
    expect(sent).toHaveLength(3);
  });
});
