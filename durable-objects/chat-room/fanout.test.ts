import { describe, expect, it } from "vitest";
import type { Message } from "../../protocol/index.js";
import { planFanout } from "./fanout.js";

const msg = (seq: number, sender: string, over: Partial<Message> = {}): Message => ({
  room_id: "r",
  seq,
  message_id: "m",
  sender_id: sender,
  client_message_id: `c${seq}`,
  body: "hi",
  mentions: [],
  mention_all: false,
  created_at: "t",
  ...over,
});

describe("planFanout", () => {
  const members = [
    { user_id: "streaming", subscribed: false },
    { user_id: "online", subscribed: true },
    { user_id: "both", subscribed: true },
    { user_id: "offline", subscribed: false },
    { user_id: "sender", subscribed: false },
  ];
  const streams = new Map([
    ["streaming", ["s1"]],
    ["both", ["b-phone"]],
  ]);

  it("delivers to streams, tells online sessions once per batch, and queues for a push what offline members may want", () => {
    const plan = planFanout(members, streams, [msg(1, "sender"), msg(2, "sender", { mentions: ["offline"] })]);
    expect(plan.delivered.sort()).toEqual(["both", "streaming"]);
    expect(plan.activity).toEqual([
      { user_id: "online", stream_devices: [], mentioned: false },
      { user_id: "both", stream_devices: ["b-phone"], mentioned: false },
    ]);
    expect(plan.push).toEqual([1, 2]);
  });
  it("queues nothing for a push when the only offline member is the sender, or everyone else is online", () => {
    const plan = planFanout(
      [
        { user_id: "sender", subscribed: false },
        { user_id: "online", subscribed: true },
        { user_id: "streaming", subscribed: false },
      ],
      new Map([["streaming", ["s1"]]]),
      [msg(1, "sender")],
    );
    expect(plan.push).toEqual([]);
    // the other's own message is for the sender
    expect(planFanout([{ user_id: "sender", subscribed: false }], new Map(), [msg(2, "other")]).push).toEqual([2]);
  });
  it("marks mention_all for everyone but the sender", () => {
    const plan = planFanout(
      [
        { user_id: "online", subscribed: true },
        { user_id: "sender", subscribed: true },
      ],
      new Map(),
      [msg(1, "sender", { mention_all: true })],
    );
    expect(plan.activity.map((a) => [a.user_id, a.mentioned])).toEqual([
      ["online", true],
      ["sender", false],
    ]);
  });
  it("tells a member who hid the room nothing, online or offline, unless a message mentions them", () => {
    const hidden = [
      { user_id: "h-online", subscribed: true, hidden: true },
      { user_id: "h-offline", subscribed: false, hidden: true },
      { user_id: "h-stream", subscribed: false, hidden: true },
      { user_id: "sender", subscribed: false },
    ];
    const streams = new Map([["h-stream", ["phone"]]]);
    const quiet = planFanout(hidden, streams, [msg(1, "sender")]);
    expect(quiet.delivered).toEqual(["h-stream"]); // an open stream still gets every message
    expect(quiet.activity).toEqual([]);
    expect(quiet.push).toEqual([]);
    const loud = planFanout(hidden, streams, [
      msg(2, "sender"),
      msg(3, "sender", { mentions: ["h-online", "h-offline"] }),
    ]);
    expect(loud.activity).toEqual([{ user_id: "h-online", stream_devices: [], mentioned: true }]);
    expect(loud.push).toEqual([3]);
  });
  it("gives a member who muted the room activity as usual, and queues a push only for what mentions them", () => {
    const muted = [
      { user_id: "m-online", subscribed: true, muted: true },
      { user_id: "m-offline", subscribed: false, muted: true },
      { user_id: "sender", subscribed: false },
    ];
    const plan = planFanout(muted, new Map(), [
      msg(1, "sender"),
      msg(2, "sender", { mentions: ["m-offline"] }),
      msg(3, "sender", { mention_all: true }),
    ]);
    expect(plan.activity).toEqual([{ user_id: "m-online", stream_devices: [], mentioned: true }]);
    expect(plan.push).toEqual([2, 3]);
  });
  it("plans nothing for an empty batch", () => {
    expect(planFanout(members, streams, [])).toEqual({ delivered: [], activity: [], push: [] });
  });
});
