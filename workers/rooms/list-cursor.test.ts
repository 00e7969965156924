import { describe, expect, it } from "vitest";
import { HttpError } from "../http/errors.js";
import { decodeCursor, encodeCursor } from "./list-cursor.js";

const id = "8c5a5c2e-3c34-4d3a-9f7b-2b5e2b8e9a10";

describe("room list cursor", () => {
  it("round-trips a position, microseconds beyond a double's exact range included", () => {
    const p = { activityMicros: "1796161181335123", id };
    const c = encodeCursor(p);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c)).toEqual(p);
    expect(decodeCursor(encodeCursor({ activityMicros: "9007199254740993", id })).activityMicros).toBe(
      "9007199254740993",
    );
  });

  it("refuses what it did not hand out with a 400", () => {
    const bad = [
      "%%%",
      "abc",
      btoa(`x.${id}`),
      btoa("123.not-a-uuid"),
      btoa(`-5.${id}`),
      btoa(`12345678901234567890.${id}`),
    ];
    for (const c of bad) {
      let caught: unknown;
      try {
        decodeCursor(c);
      } catch (err) {
        caught = err;
      }
      expect(caught, c).toBeInstanceOf(HttpError);
      expect((caught as HttpError).status, c).toBe(400);
    }
  });
});
