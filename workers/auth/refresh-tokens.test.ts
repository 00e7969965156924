import { describe, expect, it } from "vitest";
import { familyExpired, tokenExpiry } from "./refresh-tokens.js";

const DAY = 86_400_000;

describe("refresh-token lifetimes", () => {
  it("gives a token its own TTL while the family has longer to live", () => {
    expect(tokenExpiry(10 * DAY, 0, 30, 90).getTime()).toBe(40 * DAY);
  });

  it("never lets a token outlive its family", () => {
    expect(tokenExpiry(80 * DAY, 0, 30, 90).getTime()).toBe(90 * DAY);
    expect(familyExpired(90 * DAY - 1, 0, 90)).toBe(false);
    expect(familyExpired(90 * DAY, 0, 90)).toBe(true);
  });
});
