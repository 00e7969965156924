import { describe, expect, it } from "vitest";
import { RETRY_AFTER_MAX_MS, retryAfterMs } from "./retry-after.js";

describe("retryAfterMs", () => {
  const now = Date.parse("2026-05-01T12:00:00Z");

  it("reads delay-seconds and HTTP-dates", () => {
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs("Fri, 01 May 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs(["5", "9"], now)).toBe(5_000);
  });

  it("ignores what it cannot read and bounds what it can", () => {
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs("-5", now)).toBeUndefined();
    expect(retryAfterMs("Fri, 01 May 2026 11:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("999999", now)).toBe(RETRY_AFTER_MAX_MS);
  });
});
