import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { planNotifications } from "./audience.js";
import type { PushMessage } from "../protocol/push.js";

const msg = (seq: number, sender: string, o: Partial<PushMessage> = {}): PushMessage => ({
  seq,
  sender_id: sender,
  preview: `m${seq}`,
  mentions: [],
  mention_all: false,
  created_at: new Date().toISOString(),
  ...o,
});

describe("who hears of which messages", () => {
  const [ann, bob, cat, dan] = Array.from({ length: 4 }, () => randomUUID()) as [string, string, string, string];

  it("never tells a sender of their own message, collapses the rest to the latest", () => {
    const plans = planNotifications(
      [msg(3, ann), msg(1, bob), msg(2, ann)],
      [
        { user_id: ann, quiet: false },
        { user_id: bob, quiet: false },
      ],
    );
    const byUser = new Map(plans.map((p) => [p.user_id, p]));
    expect(byUser.get(ann)).toEqual({
      user_id: ann,
      seq: 1,
      sender_id: bob,
      preview: "m1",
      count: 1,
      mentioned: false,
    });
    expect(byUser.get(bob)).toMatchObject({ seq: 3, sender_id: ann, preview: "m3", count: 2 });
  });

  it("tells a quiet member only of messages that mention them (or @all), and remembers the mention", () => {
    const messages = [
      msg(1, ann),
      msg(2, ann, { mentions: [cat.toUpperCase()] }),
      msg(3, ann),
      msg(4, ann, { mention_all: true }),
    ];
    const plans = planNotifications(messages, [
      { user_id: cat, quiet: true },
      { user_id: dan, quiet: true },
      { user_id: bob, quiet: false },
    ]);
    const byUser = new Map(plans.map((p) => [p.user_id, p]));
    expect(byUser.get(cat)).toMatchObject({ seq: 4, count: 2, mentioned: true });
    expect(byUser.get(dan)).toMatchObject({ seq: 4, count: 1, mentioned: true });
    expect(byUser.get(bob)).toMatchObject({ seq: 4, count: 4, mentioned: true });
    const quietOnly = planNotifications([msg(1, ann)], [{ user_id: dan, quiet: true }]);
    expect(quietOnly).toEqual([]);
  });

  it("skips what the member already read, and names each recipient once in one order", () => {
    const plans = planNotifications(
      [msg(5, ann), msg(6, ann)],
      [
        { user_id: dan, quiet: false },
        { user_id: bob, quiet: false },
        { user_id: bob, quiet: false },
        { user_id: cat, quiet: false },
      ],
      new Map([
        [bob, 6],
        [cat, 5],
      ]),
    );
    expect(plans.map((p) => p.user_id)).toEqual([cat, dan].sort());
    expect(plans.find((p) => p.user_id === cat)).toMatchObject({ seq: 6, count: 1 });
  });

  it("skips what came before the member joined: at or below joined_seq, or created before joined_at while that is unknown", () => {
    const at = Date.parse("2026-03-01T12:00:00.000Z");
    const messages = [
      msg(5, ann, { created_at: new Date(at - 1).toISOString() }),
      msg(6, ann, { created_at: new Date(at).toISOString() }),
    ];
    const plans = planNotifications(messages, [
      { user_id: bob, quiet: false, joined_seq: 5, joined_ms: at + 10_000 }, // joined_seq says it, not the time
      { user_id: cat, quiet: false, joined_seq: 6 },
      { user_id: dan, quiet: false, joined_seq: null, joined_ms: at },
      { user_id: ann.toUpperCase(), quiet: false, joined_seq: 0 },
    ]);
    const byUser = new Map(plans.map((p) => [p.user_id, p]));
    expect(byUser.get(bob)).toMatchObject({ seq: 6, count: 1 });
    expect(byUser.has(cat)).toBe(false);
    expect(byUser.get(dan)).toMatchObject({ seq: 6, count: 1 });
    expect(byUser.has(ann)).toBe(false); // their own messages
    // the first members (0), and members with nothing known of their joining, hear of all of it
    const all = planNotifications(messages, [
      { user_id: bob, quiet: false, joined_seq: 0 },
      { user_id: cat, quiet: false },
    ]);
    expect(all.map((p) => p.count)).toEqual([2, 2]);
  });
});
