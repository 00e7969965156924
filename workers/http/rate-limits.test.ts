// Every limited endpoint through the public API, on an edge whose limits are tiny: the request
// past the burst answers 429 rate_limited with retry_after_ms, and other keys are not affected.
import { describe, expect, it } from "vitest";
import { call, db, seedUsers, uniqueHandle, type Answer } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { group, people } from "../../test/support/rooms.js";

const BURST = 2;
// ~one token a day: nothing refills while the test runs
const SLOW = "0.001";
const edge = useEdge(
  Object.fromEntries(
    ["REGISTER", "TICKET", "ROOM_CREATE", "MEMBER_ADD", "FRIEND_ADD", "USER_SEARCH"].flatMap((v) => [
      [`${v}_RATE_PER_MINUTE`, SLOW],
      [`${v}_BURST`, String(BURST)],
    ]),
  ),
);

function expectLimited(res: Answer) {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body.error.code).toBe("rate_limited");
  expect(res.body.error.retry_after_ms).toBeGreaterThan(60_000);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(60);
}

const ip = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

describe("rate limits", () => {
  it("limits registrations per IP, before anything is stored", async () => {
    const addr = ip();
    const reg = (handle: string, from: string) =>
      call(edge, "POST", "/v1/auth/register", {
        body: { handle, password: "correct horse battery", display_name: "R" },
        headers: { "cf-connecting-ip": from },
      });
    for (let i = 0; i < BURST; i++) expect((await reg(uniqueHandle("rl"), addr)).status).toBe(201);
    const refused = uniqueHandle("rl");
    expectLimited(await reg(refused, addr));
    const { rows } = await db().query("select count(*)::int as n from users where handle = $1", [refused]);
    expect(rows[0].n).toBe(0);
    expect((await reg(refused, `198.51.100.${Math.floor(Math.random() * 250) + 1}`)).status).toBe(201);
  });

  it("limits connect tickets per user, whatever the device", async () => {
    const [a, b] = await seedUsers(2, "rl");
    const ticket = (token: string, device_id: string) =>
      call(edge, "POST", "/v1/connect/ticket", { token, body: { device_id } });
    for (let i = 0; i < BURST; i++) expect((await ticket(a!.token, `dev-${i}`)).status).toBe(200);
    expectLimited(await ticket(a!.token, "another-device"));
    expect((await ticket(b!.token, "dev-0")).status).toBe(200);
  });

  it("limits room creation per user, direct and group alike", async () => {
    const [a, b, c, d] = await people(4);
    expect(
      (await call(edge, "POST", "/v1/rooms", { token: a!.token, body: { type: "direct", peer_id: b!.id } })).status,
    ).toBe(201);
    const grp = { type: "group", name: "g", member_ids: [c!.id] };
    expect((await call(edge, "POST", "/v1/rooms", { token: a!.token, body: grp })).status).toBe(201);
    const refusedName = uniqueHandle("refused");
    const refused = await call(edge, "POST", "/v1/rooms", { token: a!.token, body: { ...grp, name: refusedName } });
    expectLimited(refused);
    const { rows } = await db().query("select count(*)::int as n from chat_rooms where name = $1", [refusedName]);
    expect(rows[0].n).toBe(0);
    expect((await call(edge, "POST", "/v1/rooms", { token: d!.token, body: grp })).status).toBe(201);
  });

  it("limits member additions per user", async () => {
    const [owner, ...others] = await people(5);
    const room = await group(edge, owner!, []);
    const add = (id: string) =>
      call(edge, "POST", `/v1/rooms/${room.id}/members`, { token: owner!.token, body: { user_ids: [id] } });
    for (let i = 0; i < BURST; i++) expect((await add(others[i]!.id)).status).toBe(200);
    expectLimited(await add(others[BURST]!.id));
    const { rows } = await db().query(
      "select count(*)::int as n from chat_members where room_id = $1 and user_id = $2",
      [room.id, others[BURST]!.id],
    );
    expect(rows[0].n).toBe(0);
  });

  it("limits friend additions per user", async () => {
    const [me, ...others] = await seedUsers(4, "rl");
    const add = (token: string, id: string) => call(edge, "PUT", `/v1/friends/${id}`, { token });
    for (let i = 0; i < BURST; i++) expect((await add(me!.token, others[i]!.id)).status).toBe(200);
    expectLimited(await add(me!.token, others[BURST]!.id));
    expect((await add(others[0]!.token, me!.id)).status).toBe(200);
  });

  it("limits user searches per user", async () => {
    const [me, other] = await seedUsers(2, "rl");
    const search = (token: string) => call(edge, "GET", "/v1/users?q=rl", { token });
    for (let i = 0; i < BURST; i++) expect((await search(me!.token)).status).toBe(200);
    expectLimited(await search(me!.token));
    expect((await search(other!.token)).status).toBe(200);
  });
});
