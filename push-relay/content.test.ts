import { describe, expect, it } from "vitest";
import { BODY_MAX_CHARS, collapseKeyFor, contentFor, renderPreview, TITLE_MAX_CHARS, truncate } from "./content.js";

describe("banner content", () => {
  it("cuts by code points, never inside a surrogate pair, and marks the cut", () => {
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("abcdef", 4)).toBe("abc…");
    const emoji = "😀".repeat(10);
    const cut = truncate(emoji, 5);
    expect([...cut]).toHaveLength(5);
    expect(cut).toBe("😀😀😀😀…");
    // no lone surrogate left behind
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(cut)).toBe(false);
  });

  it("titles a group with its name and a direct room with the sender, and bounds both", () => {
    expect(renderPreview({ roomType: "group", roomName: "Team", senderName: "Ann", preview: "hi" })).toEqual({
      title: "Team",
      body: "Ann: hi",
    });
    expect(renderPreview({ roomType: "direct", roomName: null, senderName: "Ann", preview: "hi" })).toEqual({
      title: "Ann",
      body: "hi",
    });
    expect(renderPreview({ roomType: "group", roomName: null, senderName: "Ann", preview: "" }).title).toBe("Ann");
    expect(renderPreview({ roomType: "direct", roomName: null, senderName: null, preview: "" })).toEqual({
      title: "Someone",
      body: "Sent an attachment",
    });
    const long = renderPreview({
      roomType: "group",
      roomName: "R".repeat(500),
      senderName: "S",
      preview: "p".repeat(400),
    });
    expect([...long.title]).toHaveLength(TITLE_MAX_CHARS);
    expect(long.title.endsWith("…")).toBe(true);
    expect([...long.body]).toHaveLength(BODY_MAX_CHARS);
  });

  it("uses one collapse key per room that fits a Web Push Topic (≤ 32 base64url characters)", () => {
    const room = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const key = collapseKeyFor(room);
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(collapseKeyFor(room)).toBe(key);
    expect(collapseKeyFor("1f8fad5b-d9cb-469f-a165-70867728950e")).not.toBe(key);
    expect(Buffer.from(key, "base64url").toString("hex")).toBe(room.replace(/-/g, ""));
  });

  it("fills what a provider needs and falls back when retention cleared the preview", () => {
    const n = { room_id: "r", seq: 9, count: 3, mentioned: true, collapse_key: "k", title: "T", body: "B" };
    expect(contentFor(n, 12.7, 86_400)).toEqual({
      room_id: "r",
      seq: 9,
      title: "T",
      body: "B",
      count: 3,
      badge: 12,
      mentioned: true,
      collapse_key: "k",
      ttl_seconds: 86_400,
    });
    expect(contentFor({ ...n, title: null, body: null }, -1, 60)).toMatchObject({
      title: "New message",
      body: "3 new messages",
      badge: 0,
    });
  });
});
