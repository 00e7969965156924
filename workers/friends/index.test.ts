import { describe, expect, it } from "vitest";
import { BlockStatus, FriendAction, FriendStatus, RoomStatus, RoomType, UserStatus } from "../../db/index.js";
import type { ErrorBody, PublicUser } from "../../protocol/index.js";
import type { FriendListResponse, FriendResponse } from "../../protocol/social.js";
import { call, db, register, seedUsers, tokenFor, uniqueHandle } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";

type User = PublicUser & { token: string };
const edge = useEdge();

const users = (n: number) => seedUsers(n, "fr") as Promise<User[]>;
const put = (me: User, other: { id: string }) =>
  call<FriendResponse & Partial<ErrorBody>>(edge, "PUT", `/v1/friends/${other.id}`, { token: me.token });
const patch = (me: User, other: { id: string }, body: unknown) =>
  call<FriendResponse & Partial<ErrorBody>>(edge, "PATCH", `/v1/friends/${other.id}`, { token: me.token, body });
const del = (me: User, other: { id: string }) => call(edge, "DELETE", `/v1/friends/${other.id}`, { token: me.token });
const list = (me: User) => call<FriendListResponse>(edge, "GET", "/v1/friends", { token: me.token });
const pub = (u: PublicUser): PublicUser => ({ id: u.id, handle: u.handle, display_name: u.display_name });

async function friendRow(owner: User, friend: User) {
  const { rows } = await db().query(
    "select status, is_favorite, is_blocked from friends where owner_id = $1 and friend_id = $2",
    [owner.id, friend.id],
  );
  return rows[0] as { status: number; is_favorite: boolean; is_blocked: boolean } | undefined;
}
async function history(owner: User, friend: User): Promise<number[]> {
  const { rows } = await db().query(
    "select action from friend_history where owner_id = $1 and friend_id = $2 order by id",
    [owner.id, friend.id],
  );
  return rows.map((r) => r.action);
}
async function blockState(blocker: User, blocked: User) {
  const { rows } = await db().query("select status from user_block where blocker_id = $1 and blocked_id = $2", [
    blocker.id,
    blocked.id,
  ]);
  const hist = await db().query(
    "select status from user_block_history where blocker_id = $1 and blocked_id = $2 order by id",
    [blocker.id, blocked.id],
  );
  return { status: rows[0]?.status as number | undefined, history: hist.rows.map((r) => r.status as number) };
}
async function directRoom(a: User, b: User) {
  const key = a.id < b.id ? `${a.id}:${b.id}` : `${b.id}:${a.id}`;
  const { rows } = await db().query(
    "insert into chat_rooms (room_type, status, direct_key, created_by, updated_at) values ($1, $2, $3, $4, now() - interval '1 hour') returning id",
    [RoomType.direct, RoomStatus.active, key, a.id],
  );
  const id = rows[0].id as string;
  return async () => {
    const r = await db().query(
      "select membership_version, updated_at > now() - interval '1 minute' as touched from chat_rooms where id = $1",
      [id],
    );
    return { version: Number(r.rows[0].membership_version), touched: r.rows[0].touched as boolean };
  };
}

describe("authentication and input", () => {
  it("refuses every friends route without a valid token", async () => {
    const [a] = await users(1);
    const expired = await tokenFor(a!, -60);
    for (const [method, path] of [
      ["GET", "/v1/friends"],
      ["PUT", `/v1/friends/${a!.id}`],
      ["PATCH", `/v1/friends/${a!.id}`],
      ["DELETE", `/v1/friends/${a!.id}`],
    ] as const) {
      expect(
        (await call(edge, method, path, { body: method === "PATCH" ? { favorite: true } : undefined })).status,
        `${method} ${path}`,
      ).toBe(401);
      const res = await call(edge, method, path, {
        token: expired,
        body: method === "PATCH" ? { favorite: true } : undefined,
      });
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe("unauthorized");
    }
  });

  it("answers 400 for ids that are not UUIDs, including SQL-looking ones", async () => {
    const [a] = await users(1);
    for (const id of ["123", "not-a-uuid", encodeURIComponent("' or 1=1 --")]) {
      for (const method of ["PUT", "PATCH", "DELETE"]) {
        const res = await call(edge, method, `/v1/friends/${id}`, {
          token: a!.token,
          body: method === "PATCH" ? { favorite: true } : undefined,
        });
        expect(res.status, `${method} ${id}`).toBe(400);
        expect(res.body.error?.code).toBe("invalid");
      }
    }
    const { rows } = await db().query("select to_regclass('public.friends') as t");
    expect(rows[0].t).toBe("friends");
  });

  it("validates PATCH bodies: malformed JSON, unknown fields, wrong types, empty, oversized", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    const path = `/v1/friends/${b!.id}`;
    const cases: Array<{ rawBody?: string; body?: unknown; headers?: Record<string, string> }> = [
      { rawBody: "{not json" },
      { rawBody: '{"favorite": true' },
      { body: {} },
      { body: { favorite: true, note: "x" } },
      { body: { favorite: "yes" } },
      { body: { blocked: 1 } },
      { body: [true] },
      { body: null },
      { rawBody: '{"favorite":true}', headers: { "content-type": "text/plain" } },
    ];
    for (const opts of cases) {
      const res = await call(edge, "PATCH", path, { token: a!.token, ...opts });
      expect(res.status, JSON.stringify(opts)).toBe(400);
      expect(res.body.error?.code).toBe("invalid");
    }
    const big = await call(edge, "PATCH", path, {
      token: a!.token,
      rawBody: JSON.stringify({ favorite: true, pad: "x".repeat(70_000) }),
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe("too_large");
    // nothing of it was applied
    expect(await friendRow(a!, b!)).toMatchObject({ is_favorite: false, is_blocked: false });
    expect(await history(a!, b!)).toEqual([FriendAction.added]);
  });
});

describe("PUT /v1/friends/:user_id", () => {
  it("adds a friend once, however often it is asked (also at the same time)", async () => {
    const a = await register(edge, { display_name: "Adder" });
    const [b] = await users(1);
    const first = await put(a, b!);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ friend: { user: pub(b!), favorite: false, blocked: false } });
    const again = await Promise.all([put(a, b!), put(a, b!), put(a, b!)]);
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await friendRow(a, b!)).toEqual({ status: FriendStatus.added, is_favorite: false, is_blocked: false });
    expect(await history(a, b!)).toEqual([FriendAction.added]);
    // one-directional: b did not add a
    expect(await friendRow(b!, a)).toBeUndefined();
  });

  it("makes one history row when concurrent first adds race", async () => {
    const [a, b] = await users(2);
    const answers = await Promise.all(Array.from({ length: 4 }, () => put(a!, b!)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(await history(a!, b!)).toEqual([FriendAction.added]);
  });

  it("refuses yourself (400), unknown or inactive users (404)", async () => {
    const [a, suspended, gone] = await users(3);
    const self = await put(a!, a!);
    expect(self.status).toBe(400);
    expect(self.body.error?.code).toBe("invalid");
    const unknown = await put(a!, { id: crypto.randomUUID() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe("not_found");
    await db().query("update users set status = $2 where id = any($1)", [[suspended!.id], UserStatus.suspended]);
    await db().query("update users set status = $2 where id = any($1)", [[gone!.id], UserStatus.deleted]);
    expect((await put(a!, suspended!)).status).toBe(404);
    expect((await put(a!, gone!)).status).toBe(404);
    const { rows } = await db().query("select count(*)::int as n from friends where owner_id = $1", [a!.id]);
    expect(rows[0].n).toBe(0);
  });

  it("accepts an upper-case UUID as the same user", async () => {
    const [a, b] = await users(2);
    const res = await call<FriendResponse & Partial<ErrorBody>>(edge, "PUT", `/v1/friends/${b!.id.toUpperCase()}`, {
      token: a!.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.friend.user.id).toBe(b!.id);
    expect((await call(edge, "PUT", `/v1/friends/${a!.id.toUpperCase()}`, { token: a!.token })).status).toBe(400);
  });

  it("revives a deleted friend with a new history row", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    expect((await del(a!, b!)).status).toBe(204);
    expect((await put(a!, b!)).status).toBe(200);
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.added });
    expect(await history(a!, b!)).toEqual([FriendAction.added, FriendAction.deleted, FriendAction.added]);
  });
});

describe("GET /v1/friends", () => {
  it("lists favorites first, then by display name (case-insensitively), then handle", async () => {
    const [me] = await users(1);
    const tag = uniqueHandle("n");
    const names = ["bravo", "Alpha", "charlie", "zulu", "alpha"];
    const { rows } = await db().query<PublicUser>(
      `insert into users (handle, display_name) select $1 || '_' || n, d from unnest($2::text[]) with ordinality as t(d, n) returning id, handle, display_name`,
      [tag.slice(0, 28), names],
    );
    const friendsOf = rows.map((r) => ({ ...r, token: "" }));
    const by = (name: string) => friendsOf.find((f) => f.display_name === name)!;
    for (const f of friendsOf) expect((await put(me!, f)).status).toBe(200);
    expect((await patch(me!, by("zulu"), { favorite: true })).status).toBe(200);
    expect((await patch(me!, by("charlie"), { favorite: true })).status).toBe(200);
    const res = await list(me!);
    expect(res.status).toBe(200);
    // "Alpha" and "alpha" tie on lower(name) and fall back to their handles (…_2 before …_5)
    expect(res.body.friends.map((f) => f.user.display_name)).toEqual(["charlie", "zulu", "Alpha", "alpha", "bravo"]);
    expect(res.body.friends[0]).toEqual({ user: pub(by("charlie")), favorite: true, blocked: false });
    expect(res.body.friends.slice(2).every((f) => !f.favorite)).toBe(true);
  });

  it("shows blocked rows, hides deleted rows and inactive users, and only the caller's own rows", async () => {
    const [me, kept, blocked, removed, suspended, stranger] = await users(6);
    for (const f of [kept, removed, suspended]) await put(me!, f!);
    await patch(me!, blocked!, { blocked: true });
    await del(me!, removed!);
    await db().query("update users set status = $2 where id = $1", [suspended!.id, UserStatus.suspended]);
    await put(stranger!, me!);
    const res = await list(me!);
    expect(res.body.friends.map((f) => f.user.id).sort()).toEqual([kept!.id, blocked!.id].sort());
    expect(res.body.friends.find((f) => f.user.id === blocked!.id)).toMatchObject({ blocked: true, favorite: false });
    expect((await list(stranger!)).body.friends.map((f) => f.user.id)).toEqual([me!.id]);
  });

  it("lists a SQL-looking display name verbatim", async () => {
    const [me] = await users(1);
    const name = "'); delete from friends; --";
    const other = await register(edge, { display_name: name });
    await put(me!, other);
    const res = await list(me!);
    expect(res.body.friends).toEqual([
      { user: { id: other.id, handle: other.handle, display_name: name }, favorite: false, blocked: false },
    ]);
    const { rows } = await db().query("select count(*)::int as n from friends where owner_id = $1", [me!.id]);
    expect(rows[0].n).toBe(1);
  });
});

describe("PATCH /v1/friends/:user_id favorite", () => {
  it("sets and clears a favorite with history, and is idempotent", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    const on = await patch(a!, b!, { favorite: true });
    expect(on.status).toBe(200);
    expect(on.body.friend).toEqual({ user: pub(b!), favorite: true, blocked: false });
    await patch(a!, b!, { favorite: true });
    expect((await patch(a!, b!, { favorite: false })).body.friend.favorite).toBe(false);
    expect(await history(a!, b!)).toEqual([FriendAction.added, FriendAction.favorited, FriendAction.unfavorited]);
  });

  it("answers 404 for a non-friend, a deleted friend, an unknown user and yourself 400", async () => {
    const [a, b, c] = await users(3);
    expect((await patch(a!, b!, { favorite: true })).status).toBe(404);
    await put(a!, c!);
    await del(a!, c!);
    const res = await patch(a!, c!, { favorite: true });
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("not_found");
    expect((await patch(a!, { id: crypto.randomUUID() }, { favorite: true })).status).toBe(404);
    expect((await patch(a!, a!, { blocked: true })).status).toBe(400);
    expect(await friendRow(a!, b!)).toBeUndefined();
    expect(await friendRow(a!, c!)).toMatchObject({ is_favorite: false, status: FriendStatus.deleted });
  });
});

describe("blocking", () => {
  it("blocks a friend in one action: friend row, user_block, both histories, direct room version", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    await put(b!, a!);
    const room = await directRoom(b!, a!);
    const res = await patch(a!, b!, { blocked: true });
    expect(res.status).toBe(200);
    expect(res.body.friend).toEqual({ user: pub(b!), favorite: false, blocked: true });
    expect(await friendRow(a!, b!)).toEqual({ status: FriendStatus.blocked, is_favorite: false, is_blocked: true });
    expect(await blockState(a!, b!)).toEqual({ status: BlockStatus.active, history: [BlockStatus.active] });
    expect(await history(a!, b!)).toEqual([FriendAction.added, FriendAction.blocked]);
    expect(await room()).toEqual({ version: 1, touched: true });
    // b's own row and b's block state are untouched
    expect(await friendRow(b!, a!)).toEqual({ status: FriendStatus.added, is_favorite: false, is_blocked: false });
    expect((await blockState(b!, a!)).status).toBeUndefined();

    // blocking again changes nothing
    expect((await patch(a!, b!, { blocked: true })).status).toBe(200);
    expect(await history(a!, b!)).toEqual([FriendAction.added, FriendAction.blocked]);
    expect((await blockState(a!, b!)).history).toEqual([BlockStatus.active]);
    expect((await room()).version).toBe(1);
  });

  it("keeps the blocked user from adding the blocker (403) and from finding them", async () => {
    const [a, b] = await users(2);
    await patch(a!, b!, { blocked: true });
    const res = await put(b!, a!);
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("forbidden");
    expect(await friendRow(b!, a!)).toBeUndefined();
    const found = await call(edge, "GET", `/v1/users?q=${a!.handle}`, { token: b!.token });
    expect(found.body.users).toEqual([]);
    // the blocker may still add the blocked user; the row stays blocked
    const own = await put(a!, b!);
    expect(own.status).toBe(200);
    expect(own.body.friend.blocked).toBe(true);
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.blocked, is_blocked: true });
  });

  it("blocks a stranger (creating the row), and unblocking leaves them deleted", async () => {
    const [a, b] = await users(2);
    const room = await directRoom(a!, b!);
    const blocked = await patch(a!, b!, { blocked: true });
    expect(blocked.status).toBe(200);
    expect(await friendRow(a!, b!)).toEqual({ status: FriendStatus.blocked, is_favorite: false, is_blocked: true });
    expect(await history(a!, b!)).toEqual([FriendAction.blocked]);
    const lifted = await patch(a!, b!, { blocked: false });
    expect(lifted.status).toBe(200);
    expect(lifted.body.friend).toEqual({ user: pub(b!), favorite: false, blocked: false });
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.deleted, is_blocked: false });
    expect(await blockState(a!, b!)).toEqual({
      status: BlockStatus.lifted,
      history: [BlockStatus.active, BlockStatus.lifted],
    });
    expect(await history(a!, b!)).toEqual([FriendAction.blocked, FriendAction.unblocked]);
    expect((await room()).version).toBe(2);
    expect((await list(a!)).body.friends).toEqual([]);
    // and b may add a again
    expect((await put(b!, a!)).status).toBe(200);
  });

  it("unblocking a friend restores them as added, keeping the favorite", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    await patch(a!, b!, { favorite: true });
    await patch(a!, b!, { blocked: true });
    const res = await patch(a!, b!, { blocked: false });
    expect(res.body.friend).toEqual({ user: pub(b!), favorite: true, blocked: false });
    expect(await friendRow(a!, b!)).toEqual({ status: FriendStatus.added, is_favorite: true, is_blocked: false });
    expect(await history(a!, b!)).toEqual([
      FriendAction.added,
      FriendAction.favorited,
      FriendAction.blocked,
      FriendAction.unblocked,
    ]);
  });

  it("an add made while blocking is what the unblock returns to", async () => {
    const [a, b] = await users(2);
    await patch(a!, b!, { blocked: true });
    await put(a!, b!);
    await put(a!, b!);
    expect(await history(a!, b!)).toEqual([FriendAction.blocked, FriendAction.added]);
    await patch(a!, b!, { blocked: false });
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.added, is_blocked: false });
  });

  it("blocks and favorites in one request, atomically", async () => {
    const [a, b, c] = await users(3);
    const res = await patch(a!, b!, { blocked: true, favorite: true });
    expect(res.body.friend).toEqual({ user: pub(b!), favorite: true, blocked: true });
    // an unblock of a stranger with a favorite fails as a whole: no block row is touched
    await db().query("insert into user_block (blocker_id, blocked_id, status) values ($1, $2, $3)", [
      a!.id,
      c!.id,
      BlockStatus.active,
    ]);
    expect((await patch(a!, c!, { blocked: false, favorite: true })).status).toBe(404);
    expect((await blockState(a!, c!)).status).toBe(BlockStatus.active);
  });

  it("answers 404 when unblocking someone never blocked nor added; bumps no room", async () => {
    const [a, b] = await users(2);
    const room = await directRoom(a!, b!);
    expect((await patch(a!, b!, { blocked: false })).status).toBe(404);
    // a friend who is not blocked: nothing changes, 200
    await put(a!, b!);
    expect((await patch(a!, b!, { blocked: false })).status).toBe(200);
    expect(await history(a!, b!)).toEqual([FriendAction.added]);
    expect(await blockState(a!, b!)).toEqual({ status: undefined, history: [] });
    expect((await room()).version).toBe(0);
  });
});

describe("DELETE /v1/friends/:user_id", () => {
  it("deletes logically with history, clears the favorite, and then answers 404", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    await patch(a!, b!, { favorite: true });
    const res = await del(a!, b!);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect(await friendRow(a!, b!)).toEqual({ status: FriendStatus.deleted, is_favorite: false, is_blocked: false });
    expect(await history(a!, b!)).toEqual([FriendAction.added, FriendAction.favorited, FriendAction.deleted]);
    const again = await del(a!, b!);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("not_found");
    expect(await history(a!, b!)).toHaveLength(3);
  });

  it("answers 404 for a stranger or unknown user, and 400 for yourself", async () => {
    const [a, b] = await users(2);
    expect((await del(a!, b!)).status).toBe(404);
    expect((await del(a!, { id: crypto.randomUUID() })).status).toBe(404);
    expect((await del(a!, a!)).status).toBe(400);
  });

  it("leaves a block in force", async () => {
    const [a, b] = await users(2);
    await put(a!, b!);
    await patch(a!, b!, { blocked: true });
    expect((await del(a!, b!)).status).toBe(204);
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.deleted, is_blocked: true });
    expect((await blockState(a!, b!)).status).toBe(BlockStatus.active);
    expect((await put(b!, a!)).status).toBe(403);
    // re-adding keeps the row blocked
    expect((await put(a!, b!)).body.friend.blocked).toBe(true);
    expect(await friendRow(a!, b!)).toMatchObject({ status: FriendStatus.blocked, is_blocked: true });
  });
});
