import { describe, expect, it } from "vitest";
import { blockedFrom, mayDeleteAny, mayMentionAll, readAccess, sendAccess, type AccessFacts } from "./access.js";
import type { MemberState } from "./members.js";
import type { RoomMeta } from "./store.js";
import { roomMember } from "../../test/support/room-member.js";

const meta = (over: Partial<RoomMeta> = {}): RoomMeta => ({
  room_id: "r",
  type: "group",
  version: 1,
  active: true,
  last_seq: 0,
  last_activity: 0,
  ...over,
});
const member = (over: Partial<MemberState> = {}): MemberState => roomMember("a", over);
const facts = (over: Partial<AccessFacts> = {}): AccessFacts => ({
  meta: meta(),
  member: member(),
  blocks: [],
  ...over,
});

describe("blockedFrom", () => {
  it("stops both sides sending in a blocked direct room and the blocked side reading", () => {
    expect(blockedFrom([["a", "b"]], "direct", "a")).toEqual({ send: true, read: false });
    expect(blockedFrom([["a", "b"]], "direct", "b")).toEqual({ send: true, read: true });
    expect(blockedFrom([["a", "b"]], "group", "b")).toEqual({ send: false, read: false });
  });
});

describe("room access", () => {
  it("answers 404 for a room that is gone or unknown, before anything about the member", () => {
    expect(readAccess(facts({ meta: null, member: null }), "a")).toMatchObject({ ok: false, status: 404 });
    expect(readAccess(facts({ meta: meta({ active: false }) }), "a")).toMatchObject({ ok: false, status: 404 });
  });
  it("lets members read and refuses everyone else", () => {
    expect(readAccess(facts(), "a")).toMatchObject({ ok: true, member: { user_id: "a" } });
    expect(readAccess(facts({ member: null }), "z")).toMatchObject({ ok: false, status: 403, code: "forbidden" });
  });
  it("shuts the blocked person of a direct room out of reading, the blocker only out of sending", () => {
    const direct = { meta: meta({ type: "direct" }), blocks: [["a", "b"]] as Array<[string, string]> };
    expect(readAccess(facts({ ...direct, member: member({ user_id: "b" }) }), "b").ok).toBe(false);
    expect(readAccess(facts(direct), "a").ok).toBe(true);
    expect(sendAccess(facts(direct), "a")).toMatchObject({ ok: false, message: "this direct room is blocked" });
  });
  it("refuses sending to a role without can_send", () => {
    expect(sendAccess(facts({ member: member({ can_send: false }) }), "a")).toMatchObject({ ok: false, status: 403 });
    expect(sendAccess(facts(), "a").ok).toBe(true);
  });
});

describe("mention_all", () => {
  it("follows the role's permission, and owners and admins only when the copy predates it", () => {
    expect(mayMentionAll(member({ can_mention_all: true }))).toBe(true);
    expect(mayMentionAll(member({ role: "owner", can_mention_all: false }))).toBe(false);
    expect([mayMentionAll(member({ role: "owner" })), mayMentionAll(member({ role: "admin" }))]).toEqual([true, true]);
    expect(mayMentionAll(member({ role: "member" }))).toBe(false);
  });
});

describe("deleting other members' messages", () => {
  it("follows the role's permission, and owners and admins only when the copy predates it", () => {
    expect(mayDeleteAny(member({ can_delete_any: true }))).toBe(true);
    expect(mayDeleteAny(member({ role: "admin", can_delete_any: false }))).toBe(false);
    expect([mayDeleteAny(member({ role: "owner" })), mayDeleteAny(member({ role: "admin" }))]).toEqual([true, true]);
    expect(mayDeleteAny(member({ role: "member" }))).toBe(false);
  });
});
