import { describe, expect, it } from "vitest";
import { packFrames, unpackFrames } from "./batch.js";

const frame = (seq: number, body = "hi") => JSON.stringify({ type: "message", seq, body });

describe("packFrames", () => {
  it("sends a lone frame as itself, never as an array of one", () => {
    expect(packFrames([frame(1)])).toEqual([frame(1)]);
    expect(packFrames([])).toEqual([]);
  });

  it("puts a run of frames into one array, in order, that parses back to the same frames", () => {
    const frames = [frame(1), frame(2), JSON.stringify({ type: "ack", seq: 2 })];
    const packed = packFrames(frames);
    expect(packed).toHaveLength(1);
    expect(unpackFrames(packed[0]!)).toEqual(frames.map((f) => JSON.parse(f)));
  });

  it("starts a new array before one would pass the bound, and sends a frame over it alone", () => {
    const small = Array.from({ length: 10 }, (_, i) => frame(i + 1)); // 35-36 chars each
    const packed = packFrames(small, 100);
    expect(packed.every((p) => p.length <= 100 || !p.startsWith("["))).toBe(true);
    expect(packed.length).toBeGreaterThan(3);
    expect(packed.flatMap(unpackFrames)).toEqual(small.map((f) => JSON.parse(f)));

    const big = frame(99, "x".repeat(500));
    const mixed = packFrames([frame(1), big, frame(2), frame(3)], 100);
    expect(mixed).toEqual([frame(1), big, `[${frame(2)},${frame(3)}]`]);
  });
});

describe("unpackFrames", () => {
  it("reads a plain frame as a list of one, and refuses what is not JSON", () => {
    expect(unpackFrames('{"type":"pong"}')).toEqual([{ type: "pong" }]);
    expect(() => unpackFrames("[{")).toThrow();
  });
});
