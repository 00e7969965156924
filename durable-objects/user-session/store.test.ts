// The session's room cache against a real SQLite: a cached last message is a copy of a room's
// message and leaves with it, at retention.
import { describe, expect, it } from "vitest";
import { memorySql } from "../../test/support/sqlite-storage.js";
import type { Message } from "../../protocol/index.js";
import { SessionStore } from "./store.js";

const DAY = 86_400_000;
const at = (ms: number): Message => ({
  room_id: "r1",
  seq: 1,
  message_id: "m",
  sender_id: "u",
  client_message_id: "c",
  body: "secret",
  mentions: [],
  mention_all: false,
  created_at: new Date(ms).toISOString(),
});

function session(retention = 183 * DAY) {
  let now = 0;
  const wakes: number[] = [];
  const sql = memorySql();
  const store = new SessionStore(
    sql,
    retention,
    () => now,
    (t) => void wakes.push(t),
  );
  return { store, sql, wakes, setNow: (t: number) => void (now = t) };
}

describe("SessionStore retention", () => {
  it("serves a cached last message until retention, then never again, and drops it from storage", () => {
    const { store, sql, wakes, setNow } = session();
    const t0 = 10 * DAY;
    store.putSummary({ room_id: "r1", last_seq: 1, read_seq: 0, last_message: at(t0) });
    store.replaceSummary({ room_id: "r2", last_seq: 3, read_seq: 3, last_message: { ...at(t0 + DAY), room_id: "r2" } });
    // caching a message asks for the alarm at its expiry
    expect(wakes).toEqual([t0 + 183 * DAY, t0 + 184 * DAY]);
    expect(store.retentionDueAt()).toBe(t0 + 183 * DAY);
    setNow(t0 + 183 * DAY - 1);
    expect(store.cached().get("r1")?.last_message?.body).toBe("secret");
    setNow(t0 + 183 * DAY);
    // past retention it is not served, even before the alarm ran
    expect(store.cached().get("r1")).toMatchObject({ last_seq: 1, last_message: null });
    expect(store.cached().get("r2")?.last_message?.body).toBe("secret");
    // the alarm drops it from storage and moves on to the next one
    expect(store.pruneExpired(t0 + 183 * DAY)).toBe(1);
    const raw = sql.exec("SELECT room_id, last_message FROM room_cache ORDER BY room_id").toArray();
    expect(raw[0]).toEqual({ room_id: "r1", last_message: null });
    expect(store.retentionDueAt()).toBe(t0 + 184 * DAY);
  });

  it("a late answer cannot bring an expired message back: putSummary returns what may be served", () => {
    const { store, setNow } = session(DAY);
    setNow(5 * DAY);
    const s = store.putSummary({ room_id: "r1", last_seq: 1, read_seq: 0, last_message: at(0) });
    expect(s.last_message).toBeNull();
    expect(store.cached().get("r1")?.last_message).toBeNull();
  });

  it("asks for nothing, and creates nothing, in an object that never cached a room", () => {
    const { store, sql } = session();
    expect(store.retentionDueAt()).toBeNull();
    expect(store.pruneExpired(Date.now())).toBe(0);
    expect(sql.exec("SELECT count(*) AS n FROM sqlite_master").one().n).toBe(0);
  });
});
