import { describe, expect, it } from "vitest";
import { TimeUuidGenerator, timeuuidMs, timeuuidTicks } from "./timeuuid.js";

describe("TimeUuidGenerator", () => {
  it("makes RFC version-1 ids carrying the given time", () => {
    const gen = new TimeUuidGenerator();
    const { id } = gen.next(Date.UTC(2026, 10, 24, 12, 0, 0, 123));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(timeuuidMs(id)).toBe(Date.UTC(2026, 10, 24, 12, 0, 0, 123));
  });

  it("keeps ids made in one frozen millisecond unique and increasing", () => {
    const gen = new TimeUuidGenerator();
    const now = 1_800_000_000_000;
    const ids = Array.from({ length: 25_000 }, () => gen.next(now).id);
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(timeuuidTicks(ids[i]!) > timeuuidTicks(ids[i - 1]!)).toBe(true);
  });

  it("never goes backwards when the clock does", () => {
    const gen = new TimeUuidGenerator();
    const a = gen.next(2_000_000_000_000).id;
    const b = gen.next(1_999_999_999_000).id;
    expect(timeuuidTicks(b) > timeuuidTicks(a)).toBe(true);
  });

  it("matches a known id (RFC 9562 test vector layout)", () => {
    const gen = new TimeUuidGenerator(() => new Uint8Array([0x33, 0xc8, 0x9f, 0x2e, 0x1b, 0x4d, 0x5a, 0x6b]));
    const id = gen.next(0).id; // 1970-01-01 is 0x01b21dd213814000 ticks since 1582
    expect(id).toBe("13814000-1dd2-11b2-b3c8-9f2e1b4d5a6b");
  });
});
