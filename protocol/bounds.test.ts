// The size bounds every frame and message body is checked against. They skip counting for strings
// far inside a bound, so the edges (multi-byte characters, pairs, unpaired surrogates) are checked
// here against TextEncoder and the string iterator.
import { describe, expect, it } from "vitest";
import { MAX_BODY_CODE_POINTS, SendFrame, withinCodePoints, withinUtf8Bytes } from "./index.js";

const bytes = (s: string) => new TextEncoder().encode(s).length;
const send = (body: string) =>
  SendFrame.safeParse({
    type: "send",
    room_id: "00000000-0000-4000-8000-00000000000a",
    client_message_id: "c1",
    body,
  }).success;

describe("size bounds", () => {
  it("agree with TextEncoder and the code-point count at and around each bound", () => {
    const units = ["a", "é", "€", "😀", "\ud800", "\udc00"];
    for (const unit of units) {
      for (const max of [1, 2, 3, 4, 5, 12, 13, 100]) {
        for (let n = 0; n <= max + 2; n++) {
          const s = unit.repeat(n);
          expect(withinUtf8Bytes(s, max), `${JSON.stringify(unit)}×${n} within ${max} bytes`).toBe(bytes(s) <= max);
          expect(withinCodePoints(s, max), `${JSON.stringify(unit)}×${n} within ${max} code points`).toBe(
            [...s].length <= max,
          );
        }
      }
    }
  });

  it("bound a message body by code points and by bytes", () => {
    expect(send("😀".repeat(MAX_BODY_CODE_POINTS))).toBe(true); // 8,000 UTF-16 units, 16,000 bytes
    expect(send("😀".repeat(MAX_BODY_CODE_POINTS + 1))).toBe(false);
    expect(send("€".repeat(MAX_BODY_CODE_POINTS))).toBe(true); // 12,000 bytes
    expect(send("a".repeat(MAX_BODY_CODE_POINTS + 1))).toBe(false);
  });
});
