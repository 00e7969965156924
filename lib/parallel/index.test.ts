import { describe, expect, it } from "vitest";
import { mapLimit } from "./index.js";

describe("mapLimit", () => {
  it("never has more than the limit in flight and keeps the input order", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      if (n === 0) throw new Error("zero");
      return n * 10;
    });
    expect(most).toBe(2);
    expect(out.slice(0, 5)).toEqual([50, 10, 40, 20, 30]);
    expect(out[5]).toBeInstanceOf(Error);
  });
});
