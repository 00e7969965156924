import { describe, expect, it } from "vitest";
import { BOB, ME, message } from "./fixtures.js";
import { initials, messageText, previewLine, timeLabel } from "./format.js";

const clock = { now: new Date("2026-05-07T15:30:00Z"), locale: "en-GB", timeZone: "UTC" };

describe("timeLabel", () => {
  it("shows the time today, weekday and time this week, the date before", () => {
    expect(timeLabel("2026-05-07T09:05:00Z", clock)).toBe("09:05");
    expect(timeLabel("2026-05-04T18:00:00Z", clock)).toBe("Mon 18:00");
    expect(timeLabel("2026-03-03T10:00:00Z", clock)).toBe("3 Mar");
    expect(timeLabel("2025-12-24T10:00:00Z", clock)).toBe("24 Dec 2025");
  });

  it("counts days in the reader's time zone", () => {
    // at 10:00 UTC on the 7th, 23:30 UTC on the 6th was yesterday in UTC but this morning in Tokyo
    const now = new Date("2026-05-07T10:00:00Z");
    expect(timeLabel("2026-05-06T23:30:00Z", { ...clock, now, timeZone: "Asia/Tokyo" })).toBe("08:30");
    expect(timeLabel("2026-05-06T23:30:00Z", { ...clock, now })).toBe("Wed 23:30");
  });
});

describe("previews", () => {
  const nameOf = (id: string) => (id === BOB ? "Bob" : "someone");

  it("says whose message it is in a group, 'You' for one's own, and nothing more in a direct room", () => {
    expect(previewLine(message(1, { body: "hello\nthere" }), { meId: ME, group: true, nameOf })).toBe(
      "Bob: hello there",
    );
    expect(previewLine(message(1, { sender_id: ME }), { meId: ME, group: false, nameOf })).toBe("You: message 1");
    expect(previewLine(message(1), { meId: ME, group: false, nameOf })).toBe("message 1");
  });

  it("shows a deleted message as deleted and counts attachments of a message without text", () => {
    expect(previewLine(message(1, { body: "", status: "deleted" }), { meId: ME, group: true, nameOf })).toBe(
      "Message deleted",
    );
    const file = { id: "f", url: "https://x.test/f", mime: "image/png", size: 1, name: "f.png" };
    expect(messageText(message(1, { body: "", attachments: [file, file] }))).toBe("2 attachments");
  });

  it("cuts a long line at a code point, with an ellipsis", () => {
    const line = previewLine(message(1, { body: "😀".repeat(100) }), { meId: ME, group: false, nameOf }, 10);
    expect([...line]).toHaveLength(10);
    expect(line.endsWith("😀…")).toBe(true);
  });
});

describe("initials", () => {
  it("takes the first letters of two words, or two letters of one", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("bob")).toBe("BO");
    expect(initials("  ")).toBe("?");
  });
});
