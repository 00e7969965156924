import { describe, expect, it } from "vitest";
import type { SendFrame } from "../../protocol/index.js";
import { normaliseSend, wellFormed } from "./inputs.js";

describe("wellFormed", () => {
  it("replaces unpaired surrogates with U+FFFD and keeps pairs and everything else", () => {
    expect(wellFormed("a\ud800b")).toBe("a\ufffdb");
    expect(wellFormed("\udc00x\ud83d")).toBe("\ufffdx\ufffd");
    expect(wellFormed("😀 ok é")).toBe("😀 ok é");
    expect(wellFormed("\ud83d\ude00\ude00")).toBe("😀\ufffd");
  });

  it("gives the same result with or without the runtime's toWellFormed", () => {
    const samples = ["a\ud800b", "\udfff\ud800", "😀\ud83d", "plain"];
    const proto = String.prototype as unknown as { toWellFormed?: () => string };
    const native = proto.toWellFormed;
    const withNative = samples.map(wellFormed);
    try {
      delete proto.toWellFormed;
      expect(samples.map(wellFormed)).toEqual(withNative);
    } finally {
      if (native) proto.toWellFormed = native;
    }
  });

  it("makes a send's text well-formed, so its UTF-8 bytes survive a round trip", () => {
    const frame: SendFrame = {
      type: "send",
      room_id: "r",
      client_message_id: "c",
      body: "hi \ud800",
      attachments: [{ id: "f\udc00", url: "https://x.example/a", mime: "text/plain", size: 1, name: "n\ud800.txt" }],
    };
    const out = normaliseSend(frame);
    expect(out.body).toBe("hi \ufffd");
    expect(out.attachments![0]).toMatchObject({ id: "f\ufffd", name: "n\ufffd.txt" });
    const roundTrip = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));
    expect(roundTrip(out.body)).toBe(out.body);
    expect(roundTrip(frame.body)).not.toBe(frame.body);
    // the live copy (JSON.stringify escapes a lone surrogate) now matches what storage gives back
    expect(JSON.stringify(out.body)).toBe(JSON.stringify(roundTrip(out.body)));
  });
});
