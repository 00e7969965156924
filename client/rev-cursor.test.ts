import { describe, expect, it } from "vitest";
import { RevCursor } from "./rev-cursor.js";

/** A cursor whose first stream synced at `lastRev`. */
function syncedAt(lastRev: number): RevCursor {
  const c = new RevCursor();
  c.opened();
  expect(c.synced(lastRev, false)).toBeNull();
  return c;
}

describe("RevCursor", () => {
  it("has no after_rev before the first synced, then the server's last_rev", () => {
    const c = new RevCursor();
    expect(c.afterRev).toBeUndefined();
    c.opened();
    c.update(4);
    expect(c.afterRev).toBeUndefined();
    c.synced(7, false);
    expect(c.afterRev).toBe(7);
  });

  it("a replay cut before its synced leaves the cursor where it was, whatever revs it carried", () => {
    const c = syncedAt(10);
    c.opened();
    // the newest changes come first when the replay is capped: 40 says nothing about 11..39
    c.update(40);
    c.update(41);
    expect(c.afterRev).toBe(10);
    c.opened();
    expect(c.afterRev).toBe(10);
  });

  it("live updates after synced move it, in the order they come", () => {
    const c = syncedAt(10);
    c.update(11);
    c.update(12);
    expect(c.afterRev).toBe(12);
    c.update(11); // a repeat never moves it back
    expect(c.afterRev).toBe(12);
  });

  it("takes a last_rev lower than the cursor: the room lost its storage and its revs started over", () => {
    const c = syncedAt(50);
    c.opened();
    c.synced(3, false);
    expect(c.afterRev).toBe(3);
  });

  it("updates_has_more: last_rev and the live updates after it count only once the held messages were reloaded", () => {
    const c = syncedAt(10);
    c.opened();
    const token = c.synced(900, true);
    expect(token).not.toBeNull();
    c.update(901);
    expect(c.afterRev).toBe(10);
    c.reloaded(token!);
    expect(c.afterRev).toBe(901);
    c.update(902);
    expect(c.afterRev).toBe(902);
  });

  it("a reload that finishes after its socket is gone does not move the cursor", () => {
    const c = syncedAt(10);
    c.opened();
    const stale = c.synced(900, true)!;
    c.opened();
    const current = c.synced(905, true)!;
    c.reloaded(stale);
    expect(c.afterRev).toBe(10);
    c.update(906);
    expect(c.afterRev).toBe(10);
    c.reloaded(current);
    expect(c.afterRev).toBe(906);
  });
});
