import { describe, expect, it } from "vitest";
import { announceTo } from "./announce.js";

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
