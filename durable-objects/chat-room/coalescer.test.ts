import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../../protocol/index.js";
import { Coalescer, MAX_TYPING_PER_FLUSH } from "./coalescer.js";

function room(members: number) {
  const sent: Array<{ to: string; frame: ServerFrame }> = [];
  const activity: Array<Map<string, boolean>> = [];
  const changeOnly: boolean[] = [];
  const wakes: number[] = [];
  const c = new Coalescer(
    {
      roomId: () => "r",
      memberCount: () => members,
      broadcast: (frame, opts) => sent.push({ to: `all-but-${opts?.exceptUser ?? ""}`, frame }),
      sendToUser: (user, frame) => sent.push({ to: user, frame }),
      notifyActivity: (users, change) => {
        activity.push(new Map(users));
        changeOnly.push(change);
      },
      wake: (at) => wakes.push(at),
    },
    { immediateFanoutMaxMembers: 100, coalesceMs: 1000, typingIntervalMs: 3000 },
  );
  return { c, sent, activity, changeOnly, wakes };
}
const ws = {} as WebSocket;

describe("Coalescer", () => {
  it("sends at once in a room of up to 100 members and asks for no alarm", () => {
    const { c, sent, activity, wakes } = room(100);
    c.read("a", 5);
    c.deliveredTo("s", ["s", "b"], 7);
    c.activityFor([{ user_id: "b", mentioned: true }]);
    expect(sent.map((s) => s.frame.type)).toEqual(["receipt", "receipt"]);
    expect(sent[1]).toEqual({ to: "s", frame: { type: "receipt", room_id: "r", user_id: "b", delivered_seq: 7 } });
    expect(activity).toEqual([new Map([["b", true]])]);
    expect(wakes).toEqual([]);
    expect(c.dueAt(0)).toBeNull();
  });

  it("gathers everything above 100 members and sends it in one flush, the latest offset of each", () => {
    const { c, sent, activity, wakes } = room(101);
    c.read("a", 5);
    c.read("a", 9);
    c.deliveredTo("s", ["b", "c"], 3);
    c.deliveredTo("s", ["b"], 4);
    c.activityFor([{ user_id: "b", mentioned: false }]);
    c.activityFor([{ user_id: "b", mentioned: true }]);
    expect(sent).toEqual([]);
    expect(wakes.length).toBeGreaterThan(0);
    expect(c.dueAt(2000)).toBe(2000);
    c.run(2000);
    expect(sent.map((s) => s.frame)).toEqual([
      { type: "receipts", room_id: "r", offsets: [{ user_id: "a", read_seq: 9 }] },
      {
        type: "receipts",
        room_id: "r",
        offsets: [
          { user_id: "b", delivered_seq: 4 },
          { user_id: "c", delivered_seq: 3 },
        ],
      },
    ]);
    expect(activity).toEqual([new Map([["b", true]])]);
    expect(c.dueAt(2000)).toBeNull();
    c.read("a", 10);
    expect(c.dueAt(2100)).toBe(3000); // at most once a second
  });

  it("relays a user's typing at most once per interval, and at most a few users per flush", () => {
    const small = room(2);
    small.c.typingFrom("a", ws, 10_000);
    small.c.typingFrom("a", ws, 12_999);
    small.c.typingFrom("a", ws, 13_000);
    expect(small.sent.length).toBe(2);
    const large = room(500);
    for (let i = 0; i < 20; i++) large.c.typingFrom(`u${i}`, ws, 10_000);
    large.c.run(11_000);
    expect(large.sent.length).toBe(MAX_TYPING_PER_FLUSH);
    expect(large.sent[0]).toEqual({ to: "all-but-u0", frame: { type: "typing", room_id: "r", user_id: "u0" } });
  });

  it("tells a change of the latest message apart from a new one, at once and when gathered", () => {
    const small = room(10);
    small.c.activityFor([{ user_id: "b", mentioned: false }], "change");
    small.c.activityFor([{ user_id: "b", mentioned: false }]);
    expect(small.changeOnly).toEqual([true, false]);
    const large = room(101);
    large.c.activityFor([{ user_id: "b", mentioned: false }], "change");
    large.c.run(2000);
    // a new message in the same window makes it a message activity (its side effects apply)
    large.c.activityFor([{ user_id: "b", mentioned: false }], "change");
    large.c.activityFor([{ user_id: "c", mentioned: false }]);
    large.c.run(4000);
    large.c.activityFor([{ user_id: "b", mentioned: false }], "change");
    large.c.run(6000);
    expect(large.changeOnly).toEqual([true, false, true]);
    expect(large.activity[1]).toEqual(
      new Map([
        ["b", false],
        ["c", false],
      ]),
    );
  });
});
