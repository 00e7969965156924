import { describe, expect, it } from "vitest";
import type { ActivityEvent, Message } from "../../protocol/index.js";
import { ActivityPlanner } from "./activity.js";
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";

const meta: RoomMeta = { room_id: "r", type: "group", version: 1, active: true, last_seq: 2, last_activity: 0 };
const member = (user_id: string, subscribed: boolean, read_seq = 0): MemberState => ({
  user_id,
  role: "member",
  can_send: true,
  joined_at: "",
  joined_seq: 0,
  read_seq,
  delivered_seq: 0,
  subscribed,
});
const message = (seq: number, mentions: string[] = []): Message =>
  ({ room_id: "r", seq, sender_id: "a", mentions, mention_all: false, body: "" }) as unknown as Message;

function fake(members: MemberState[], online: Record<string, boolean>, latest = message(2, ["c"])) {
  const pushRows: number[] = [];
  const noted: number[] = [];
  const delivered: Array<[readonly string[], number]> = [];
  const unsubscribed: string[] = [];
  const events: Array<[string, ActivityEvent]> = [];
  const reported: Array<[string, readonly string[], number]> = [];
  const pending: Promise<unknown>[] = [];
  const planner = new ActivityPlanner({
    meta: () => meta,
    members: () => members,
    latestMessage: () => latest,
    streamDevices: () => new Map([["a", ["phone"]]]),
    transaction: (fn) => fn(),
    queuePush: (seq) => void pushRows.push(seq),
    pushNoted: (now) => void noted.push(now),
    markDelivered: (users, seq) => void delivered.push([users, seq]),
    unsubscribe: (u) => void unsubscribed.push(u),
    activity: async (u, e) => (events.push([u, e]), { online: online[u] ?? false }),
    reportDelivered: (s, users, seq) => void reported.push([s, users, seq]),
    waitUntil: (p) => void pending.push(p),
    clock: () => 5,
  });
  return { planner, pushRows, noted, delivered, unsubscribed, events, reported, settle: () => Promise.all(pending) };
}

describe("ActivityPlanner", () => {
  it("queues each message some member neither online nor streaming may want pushed, once", () => {
    const members = [member("a", false), member("b", false), member("c", false), member("d", true)];
    const f = fake(members, {});
    const plan = f.planner.planCommit(members, [message(1), message(2, ["c"])], 5);
    expect(f.pushRows).toEqual([1, 2]);
    expect(plan.delivered).toEqual(["a"]);
    expect(plan.activity.map((x) => x.user_id)).toEqual(["d"]);
  });

  it("tells subscribed members through their session, and pushes to those whose session has no socket", async () => {
    const f = fake([member("a", false), member("c", true, 1), member("d", true)], { c: true, d: false });
    f.planner.notify(
      new Map([
        ["c", true],
        ["d", false],
        ["x", false],
      ]),
    );
    await f.settle();
    expect(f.events.map(([u, e]) => [u, e.read_seq, e.mentioned])).toEqual([
      ["c", 1, true],
      ["d", 0, false],
    ]);
    expect(f.delivered).toEqual([[["c"], 2]]);
    expect(f.unsubscribed).toEqual(["d"]);
    // the message is queued again: the flush finds d offline and not delivered
    expect(f.pushRows).toEqual([2]);
    expect(f.noted).toEqual([5]);
    expect(f.reported).toEqual([["a", ["c"], 2]]);
  });

  it("queues nothing again for a gone session that would not be pushed: the sender, or a muted member not mentioned", async () => {
    const muted = { ...member("m", true), muted: true };
    const f = fake([member("a", true), muted], { a: false, m: false }, message(2));
    f.planner.notify(
      new Map([
        ["a", false],
        ["m", false],
      ]),
    );
    await f.settle();
    expect(f.unsubscribed).toEqual(["a", "m"]);
    expect(f.pushRows).toEqual([]);
    expect(f.noted).toEqual([]);
    // mentioned, the muted member is pushed after all
    const g = fake([muted], { m: false }, message(3, ["m"]));
    g.planner.notify(new Map([["m", true]]));
    await g.settle();
    expect(g.pushRows).toEqual([3]);
  });

  it("on a change of the latest message tells subscribed sessions, and marks, reports and pushes nothing", async () => {
    const f = fake([member("a", false), member("c", true, 1), member("d", true)], { c: true, d: false });
    f.planner.notify(
      new Map([
        ["c", false],
        ["d", false],
      ]),
      true,
    );
    await f.settle();
    expect(f.events.map(([u, e]) => [u, e.last_seq, e.message?.seq])).toEqual([
      ["c", 2, 2],
      ["d", 2, 2],
    ]);
    // a session with no socket left is unsubscribed, as after a message
    expect(f.unsubscribed).toEqual(["d"]);
    expect(f.delivered).toEqual([]);
    expect(f.reported).toEqual([]);
    expect(f.pushRows).toEqual([]);
    expect(f.noted).toEqual([]);
  });
});
