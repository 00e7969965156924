import { describe, expect, it } from "vitest";
import { BOB, CAROL } from "./fixtures.js";
import { applyReceipt, tickFor, tickLabel, type Offsets } from "./receipts.js";

describe("receipts", () => {
  it("moves offsets forward only, and reading counts as delivered", () => {
    let o: Offsets = new Map();
    o = applyReceipt(o, { user_id: BOB, delivered_seq: 5 });
    o = applyReceipt(o, { user_id: BOB, delivered_seq: 3 });
    expect(o.get(BOB)).toEqual({ read_seq: 0, delivered_seq: 5 });
    o = applyReceipt(o, { user_id: BOB, read_seq: 7 });
    expect(o.get(BOB)).toEqual({ read_seq: 7, delivered_seq: 7 });
    expect(applyReceipt(o, { user_id: BOB, read_seq: 2 })).toBe(o);
  });

  it("ticks a direct room's message sent, then delivered, then read", () => {
    let o: Offsets = new Map();
    expect(tickFor(4, [BOB], o).tick).toBe("sent");
    o = applyReceipt(o, { user_id: BOB, delivered_seq: 4 });
    expect(tickFor(4, [BOB], o).tick).toBe("delivered");
    expect(tickFor(5, [BOB], o).tick).toBe("sent");
    o = applyReceipt(o, { user_id: BOB, read_seq: 4 });
    expect(tickFor(4, [BOB], o)).toEqual({ tick: "read", readBy: 1 });
  });

  it("ticks a group's message read only once everyone else read it", () => {
    let o: Offsets = applyReceipt(new Map(), { user_id: BOB, read_seq: 9 });
    expect(tickFor(9, [BOB, CAROL], o)).toEqual({ tick: "sent", readBy: 1 });
    expect(tickLabel("sent", 1, 2)).toBe("Sent, read by 1 of 2");
    o = applyReceipt(o, { user_id: CAROL, delivered_seq: 9 });
    expect(tickFor(9, [BOB, CAROL], o).tick).toBe("delivered");
    o = applyReceipt(o, { user_id: CAROL, read_seq: 10 });
    expect(tickFor(9, [BOB, CAROL], o).tick).toBe("read");
    expect(tickLabel("read", 2, 2)).toBe("Read by all 2");
  });

  it("never ticks more than sent in a room with nobody else", () => {
    expect(tickFor(1, [], new Map()).tick).toBe("sent");
  });
});
