import { describe, expect, it } from "vitest";
import type { RoomSnapshot } from "../../protocol/index.js";
import { effectiveReadSeq, planMembership, type MemberState } from "./members.js";

const snap = (members: Array<[string, string, string]>): RoomSnapshot => ({
  room_id: "r",
  version: 2,
  type: "group",
  active: true,
  members: members.map(([user_id, role, joined_at]) => ({
    user_id,
    role: role as "member",
    can_send: true,
    joined_at,
  })),
  blocks: [],
});
const state = (user_id: string, joined_at: string, over: Partial<MemberState> = {}): MemberState => ({
  user_id,
  role: "member",
  can_send: true,
  joined_at,
  joined_seq: 0,
  read_seq: 4,
  delivered_seq: 5,
  subscribed: true,
  ...over,
});

describe("planMembership", () => {
  it("lets the first members see the room from the start and later joiners from the last seq", () => {
    expect(planMembership(new Map(), snap([["a", "member", "t1"]]), 0, true).upserts[0]!.joined_seq).toBe(0);
    const later = planMembership(
      new Map([["a", state("a", "t1")]]),
      snap([
        ["a", "member", "t1"],
        ["b", "member", "t2"],
      ]),
      42,
      false,
    );
    expect(later.joined).toEqual(["b"]);
    expect(later.upserts).toEqual([expect.objectContaining({ user_id: "b", joined_seq: 42, read_seq: 42 })]);
  });
  it("removes members missing from the snapshot and restarts history for one who came back", () => {
    const plan = planMembership(
      new Map([
        ["a", state("a", "t1")],
        ["b", state("b", "t1")],
      ]),
      snap([["a", "member", "t9"]]),
      10,
      false,
    );
    expect(plan.removed).toEqual(["b"]);
    expect(plan.upserts[0]).toMatchObject({ user_id: "a", joined_seq: 10, read_seq: 10 });
  });
  it("takes a member's hidden flag from the snapshot, keeping offsets", () => {
    const s = snap([["a", "member", "t1"]]);
    s.members[0]!.hidden = true;
    const plan = planMembership(new Map([["a", state("a", "t1")]]), s, 10, false);
    expect(plan.upserts).toEqual([expect.objectContaining({ hidden: true, read_seq: 4, delivered_seq: 5 })]);
    s.members[0]!.hidden = false;
    expect(planMembership(new Map([["a", state("a", "t1", { hidden: false })]]), s, 10, false).upserts).toEqual([]);
  });
  it("takes a member's muted flag from the snapshot, keeping offsets and what they were pushed", () => {
    const s = snap([["a", "member", "t1"]]);
    s.members[0]!.muted = true;
    const had = new Map([["a", state("a", "t1", { pushed_seq: 3 })]]);
    const plan = planMembership(had, s, 10, false);
    expect(plan.upserts).toEqual([expect.objectContaining({ muted: true, hidden: false, read_seq: 4, pushed_seq: 3 })]);
    s.members[0]!.muted = false;
    expect(planMembership(new Map([["a", state("a", "t1", { muted: false })]]), s, 10, false).upserts).toEqual([]);
    // a new member is not muted unless the snapshot says so, and has been pushed nothing
    expect(planMembership(new Map(), snap([["b", "member", "t1"]]), 0, true).upserts[0]).toMatchObject({
      muted: false,
      pushed_seq: 0,
    });
  });
  it("keeps offsets across a role change", () => {
    const plan = planMembership(new Map([["a", state("a", "t1")]]), snap([["a", "admin", "t1"]]), 10, false);
    expect(plan.upserts).toEqual([expect.objectContaining({ role: "admin", read_seq: 4, delivered_seq: 5 })]);
    expect(plan.joined).toEqual([]);
  });
});

describe("effectiveReadSeq", () => {
  it("is the read offset, but never before the join point", () => {
    expect(effectiveReadSeq({ read_seq: 7, joined_seq: 3 })).toBe(7);
    expect(effectiveReadSeq({ read_seq: 0, joined_seq: 12 })).toBe(12);
  });
});

describe("the mention_all permission", () => {
  it("comes with a new member, and a change of it alone is written", () => {
    const withPerm = (can: boolean | undefined): RoomSnapshot => {
      const base = snap([["a", "admin", "t1"]]);
      return {
        ...base,
        members: base.members.map((m) => ({ ...m, ...(can === undefined ? {} : { can_mention_all: can }) })),
      };
    };
    const fresh = planMembership(new Map(), withPerm(true), 0, true);
    expect(fresh.upserts[0]).toMatchObject({ user_id: "a", can_mention_all: true });
    const had = new Map([["a", state("a", "t1", { role: "admin", can_mention_all: true })]]);
    expect(planMembership(had, withPerm(true), 9, false).upserts).toEqual([]);
    const revoked = planMembership(had, withPerm(false), 9, false).upserts;
    expect(revoked).toEqual([{ ...had.get("a"), hidden: false, muted: false, can_mention_all: false }]);
    // a snapshot that does not carry it leaves it unknown (decided by role)
    expect(planMembership(had, withPerm(undefined), 9, false).upserts[0]).not.toHaveProperty("can_mention_all");
  });

  it("carries can_delete_any the same way: with a new member, and a change of it alone", () => {
    const withPerm = (can: boolean | undefined): RoomSnapshot => {
      const base = snap([["a", "admin", "t1"]]);
      return {
        ...base,
        members: base.members.map((m) => ({ ...m, ...(can === undefined ? {} : { can_delete_any: can }) })),
      };
    };
    expect(planMembership(new Map(), withPerm(true), 0, true).upserts[0]).toMatchObject({ can_delete_any: true });
    const had = new Map([["a", state("a", "t1", { role: "admin", can_delete_any: true })]]);
    expect(planMembership(had, withPerm(true), 9, false).upserts).toEqual([]);
    const revoked = planMembership(had, withPerm(false), 9, false).upserts;
    expect(revoked).toEqual([{ ...had.get("a"), hidden: false, muted: false, can_delete_any: false }]);
    expect(planMembership(had, withPerm(undefined), 9, false).upserts[0]).not.toHaveProperty("can_delete_any");
  });
});
