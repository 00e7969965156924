import { describe, expect, it } from "vitest";
import { earliest } from "./alarm.js";

describe("earliest", () => {
  it("picks the smallest due time and ignores jobs that are not due", () => {
    expect(earliest(30, null, 10, undefined, 20)).toBe(10);
    expect(earliest(null, undefined)).toBeNull();
    expect(earliest(Number.NaN, 5)).toBe(5);
  });
});
