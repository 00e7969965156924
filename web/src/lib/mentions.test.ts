import { describe, expect, it } from "vitest";
import { BOB, CAROL, ME } from "./fixtures.js";
import { bodySegments, mentionsIn, mentionsMe } from "./mentions.js";

const members = [
  { user_id: ME, handle: "me_1" },
  { user_id: BOB, handle: "bob" },
  { user_id: CAROL, handle: "carol.k" },
];

describe("mentionsIn", () => {
  it("finds members by @handle, case-insensitive, each once, never the writer, and @all", () => {
    expect(mentionsIn("hi @Bob and @carol.k. also @bob, @me_1", members, ME)).toEqual({
      mentions: [BOB, CAROL],
      mention_all: false,
    });
    expect(mentionsIn("@all lunch?", members, ME)).toEqual({ mentions: [], mention_all: true });
  });

  it("names nobody in an e-mail address, an unknown handle or a bare @", () => {
    expect(mentionsIn("mail bob@bob.com or @nobody or @ alone", members, ME)).toEqual({
      mentions: [],
      mention_all: false,
    });
  });
});

describe("bodySegments", () => {
  it("marks the mentions the message carries, telling me apart from others", () => {
    const segments = bodySegments(
      { body: "@bob ask @me_1 and @carol.k.", mentions: [BOB, ME], mention_all: false },
      members,
      ME,
    );
    expect(segments).toEqual([
      { text: "@bob", mention: "other" },
      { text: " ask " },
      { text: "@me_1", mention: "me" },
      { text: " and @carol.k." },
    ]);
    expect(segments.map((s) => s.text).join("")).toBe("@bob ask @me_1 and @carol.k.");
  });

  it("marks @all only when the message says mention_all", () => {
    expect(bodySegments({ body: "@all go", mentions: [], mention_all: true }, members, ME)).toEqual([
      { text: "@all", mention: "all" },
      { text: " go" },
    ]);
    expect(bodySegments({ body: "@all go", mentions: [], mention_all: false }, members, ME)).toEqual([
      { text: "@all go" },
    ]);
  });

  it("tells whether a message calls me", () => {
    expect(mentionsMe({ mentions: [ME], mention_all: false }, ME)).toBe(true);
    expect(mentionsMe({ mentions: [], mention_all: true }, ME)).toBe(true);
    expect(mentionsMe({ mentions: [BOB], mention_all: false }, ME)).toBe(false);
  });
});
