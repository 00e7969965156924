import { afterEach, describe, expect, it, vi } from "vitest";
import { StorageLimit } from "./storage-limit.js";

describe("StorageLimit", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is full from the limit on, and says so once per change", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    let size = 900;
    const limit = new StorageLimit(
      () => size,
      1000,
      () => "r",
    );
    expect(limit.full()).toBe(false);
    size = 1000;
    expect([limit.full(), limit.full()]).toEqual([true, true]);
    expect(error).toHaveBeenCalledTimes(1);
    size = 999;
    expect(limit.full()).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
