// The room store's in-memory copies (meta, members): every read of a frame is served from them, so
// they must follow every write the store makes, never change under a caller that holds one, and
// go back to SQLite after a rollback. Against a real SQLite (test/support/sqlite-storage.ts).
import { describe, expect, it } from "vitest";
import { roomMember } from "../../test/support/room-member.js";
import { memorySql } from "../../test/support/sqlite-storage.js";
import { RoomStore } from "./store.js";

const ROOM = "00000000-0000-4000-8000-00000000000a";

const member = (user_id: string) => roomMember(user_id, { hidden: false, muted: false, pushed_seq: 0 });

function room() {
  const sql = memorySql();
  const store = new RoomStore(sql);
  store.setMeta({ room_id: ROOM, type: "group", version: 1, active: true, last_seq: 0, last_activity: 0 });
  for (const id of ["a", "b", "c"]) store.upsertMember(member(id));
  return { sql, store };
}

describe("room store copies", () => {
  it("meta follows every write, and a meta already handed out keeps what it said", () => {
    const { sql, store } = room();
    const before = store.meta()!;
    store.setMeta({ last_seq: 7 });
    store.setName("Team");
    expect(before.last_seq).toBe(0);
    expect(store.meta()).toMatchObject({ room_id: ROOM, last_seq: 7, name: "Team" });
    store.setName(null);
    expect(store.meta()!.name).toBeNull();
    // what SQLite holds is what the copy said
    expect(new RoomStore(sql).meta()).toEqual(store.meta());
  });

  it("member offsets moved by messages patch the copy: lookups see them, a member handed out does not change", () => {
    const { sql, store } = room();
    store.setMeta({ last_seq: 10 });
    const held = store.member("b")!;
    store.markRead("b", 4, 10);
    store.markDelivered(["b", "c"], 6);
    store.markPushed(["c"], 3);
    store.setSubscribed("a", true);
    expect(held).toMatchObject({ read_seq: 0, delivered_seq: 0 });
    const fromSqlite = new RoomStore(sql);
    for (const id of ["a", "b", "c"]) expect(store.member(id)).toEqual(fromSqlite.member(id));
    expect(store.member("b")).toMatchObject({ read_seq: 4, delivered_seq: 6 });
    expect(store.member("c")).toMatchObject({ delivered_seq: 6, pushed_seq: 3 });
    expect(
      store
        .members()
        .filter((m) => m.subscribed)
        .map((m) => m.user_id),
    ).toEqual(["a"]);
    // an offset never moves back, in SQLite or in the copy
    store.markDelivered(["b"], 2);
    expect(store.member("b")!.delivered_seq).toBe(6);
    store.removeMember("c");
    expect(store.member("c")).toBeNull();
    expect(store.members()).toHaveLength(2);
  });

  it("after a rollback, forget() sends the next read back to SQLite", () => {
    const { sql, store } = room();
    store.meta();
    store.member("a");
    sql.exec("SAVEPOINT t");
    store.setMeta({ last_seq: 99 });
    store.markRead("a", 99, 99);
    sql.exec("ROLLBACK TO t");
    expect(store.meta()!.last_seq).toBe(99); // the copy still says what SQLite undid
    store.forget();
    expect(store.meta()!.last_seq).toBe(0);
    expect(store.member("a")!.read_seq).toBe(0);
  });
});
