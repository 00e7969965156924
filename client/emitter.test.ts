import { describe, expect, it } from "vitest";
import { Emitter, MAX_HELD_REPORTS } from "./emitter.js";

type Events = { sent: number; message: string };

describe("Emitter", () => {
  it("calls listeners in order, and stops calling one removed", () => {
    const e = new Emitter<Events>();
    const seen: string[] = [];
    const off = e.on("message", (m) => seen.push(`1:${m}`));
    e.on("message", (m) => seen.push(`2:${m}`));
    e.emit("message", "a");
    off();
    e.emit("message", "b");
    expect(seen).toEqual(["1:a", "2:a", "2:b"]);
  });

  it("holds reports of held types until the first listener, then hands each over once", async () => {
    const e = new Emitter<Events>();
    e.report("sent", 1);
    e.report("sent", 2);
    e.emit("sent", 99); // not a report: nobody listens, nobody hears it
    const seen: number[] = [];
    e.on("sent", (n) => seen.push(n));
    expect(seen).toEqual([]); // not inside on(): after it returns
    await Promise.resolve();
    expect(seen).toEqual([1, 2]);
    const later: number[] = [];
    e.on("sent", (n) => later.push(n));
    await Promise.resolve();
    expect(later).toEqual([]);
    e.report("sent", 3);
    expect([seen, later]).toEqual([[1, 2, 3], [3]]);
  });

  it("holds a bounded number of reports for a type nobody listens to", async () => {
    const e = new Emitter<Events>();
    for (let i = 0; i < MAX_HELD_REPORTS + 5; i++) e.report("sent", i);
    const seen: number[] = [];
    e.on("sent", (n) => seen.push(n));
    await Promise.resolve();
    expect(seen.length).toBe(MAX_HELD_REPORTS);
    expect(seen[0]).toBe(5);
  });

  it("a listener that throws does not stop the others", () => {
    const e = new Emitter<Events>();
    const seen: string[] = [];
    const error = console.error;
    console.error = () => {};
    try {
      e.on("message", () => {
        throw new Error("broken");
      });
      e.on("message", (m) => seen.push(m));
      e.emit("message", "still delivered");
    } finally {
      console.error = error;
    }
    expect(seen).toEqual(["still delivered"]);
  });

  it("once() listens for one event", () => {
    const e = new Emitter<Events>();
    const seen: number[] = [];
    e.once("sent", (n) => seen.push(n));
    e.emit("sent", 1);
    e.emit("sent", 2);
    expect(seen).toEqual([1]);
  });
});
