// Presence scope through the public API: you are visible to the people you added and to the
// co-members of your rooms, never across a block, and a change that ends it stops the updates.
import { describe, expect, it } from "vitest";
import { call, db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { type TestSocket, eventually, openSession, sleep } from "../../test/support/sockets.js";
import { direct, group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();

const watchers = async (userId: string) => {
  const n = await edge.mf.getDurableObjectNamespace("USER_SESSION");
  return (await (n.get(n.idFromName(userId)) as unknown as { inspect(): Promise<{ watchers: string[] }> }).inspect())
    .watchers;
};
const addFriend = async (owner: Seeded, friend: Seeded) =>
  expect((await call(edge, "PUT", `/v1/friends/${friend.id}`, { token: owner.token })).status).toBe(200);

/** Takes the presence frames about `target` that `watcher` received so far. */
function heardOf(watcher: TestSocket, target: Seeded) {
  const heard = watcher.frames.filter((f) => f.type === "presence" && f.user_id === target.id);
  for (const f of heard) watcher.frames.splice(watcher.frames.indexOf(f), 1);
  return heard;
}
const nextAbout = (watcher: TestSocket, target: Seeded) =>
  watcher.take((f) => f.type === "presence" && f.user_id === target.id, 10_000);

/** `watcher`'s device watches `target` and gets its answer. */
async function watchSees(watcher: TestSocket, target: Seeded) {
  watcher.send({ type: "watch_presence", user_ids: [target.id] });
  return nextAbout(watcher, target);
}

/** `watcher`'s device watches `target`: no answer comes (the session answers the watchable ones at once). */
async function watchSeesNothing(watcher: TestSocket, target: Seeded) {
  watcher.send({ type: "watch_presence", user_ids: [target.id] });
  await sleep(600);
  expect(heardOf(watcher, target)).toEqual([]);
}

/** `target` comes online on a device and leaves again; `watcher` hears both. */
async function flickerSeen(watcher: TestSocket, target: Seeded) {
  const s = await openSession(edge, target, `flicker-${Date.now()}`);
  expect((await nextAbout(watcher, target)).status).toBe("online");
  await s.close();
  expect((await nextAbout(watcher, target)).status).toBe("offline");
}

/** `target` comes online on a device and leaves again; `watcher` hears nothing of it. */
async function flickerUnseen(watcher: TestSocket, target: Seeded) {
  const s = await openSession(edge, target, `flicker-${Date.now()}`);
  await sleep(500);
  await s.close();
  await sleep(600);
  expect(heardOf(watcher, target)).toEqual([]);
}

describe("presence scope", () => {
  it("shows nothing to a one-way adder, and shows you to the people you added", async () => {
    const [adder, target, chosen] = (await people(3)) as [Seeded, Seeded, Seeded];
    await addFriend(adder, target); // no consent asked: this gives adder no sight of target
    await addFriend(target, chosen);
    const as = await openSession(edge, adder);
    await watchSeesNothing(as, target);
    await flickerUnseen(as, target);
    expect(await watchers(target.id)).not.toContain(adder.id);

    const cs = await openSession(edge, chosen);
    expect(await watchSees(cs, target)).toMatchObject({ status: "offline" });
    await flickerSeen(cs, target);
    await Promise.all([as.close(), cs.close()]);
  });

  it("shows a co-member, and stops the updates once either of them is out of the shared room", async () => {
    const [owner, member] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, owner, [member]);
    const ms = await openSession(edge, member);
    expect(await watchSees(ms, owner)).toMatchObject({ status: "offline" });
    await flickerSeen(ms, owner);

    const removed = await call(edge, "DELETE", `/v1/rooms/${g.id}/members/${member.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    // the removed member's session asks again, and the owner's session forgets it as a watcher
    await eventually(async () => !(await watchers(owner.id)).includes(member.id));
    await flickerUnseen(ms, owner);
    await watchSeesNothing(ms, owner);
    await ms.close();
  });

  it("shows nothing through a direct room a stranger opened, until the watched one opened or read one", async () => {
    const [target, stranger, contact] = (await people(3)) as [Seeded, Seeded, Seeded];
    // anyone not blocked may open a direct room with anyone: that alone is no consent
    const room = await direct(edge, stranger, target);
    const ss = await openSession(edge, stranger);
    await watchSeesNothing(ss, target);
    await flickerUnseen(ss, target);
    // once the target has read there (the room's flush copies read offsets to PostgreSQL), it is theirs too
    await db().query(`update chat_members set last_read_seq = 1 where room_id = $1 and user_id = $2`, [
      room.id,
      target.id,
    ]);
    expect(await watchSees(ss, target)).toMatchObject({ status: "offline" });
    // and the one who opened a direct room is visible to its peer at once
    await direct(edge, target, contact);
    const cs = await openSession(edge, contact);
    expect(await watchSees(cs, target)).toMatchObject({ status: "offline" });
    await Promise.all([ss.close(), cs.close()]);
  });

  it("stops every update to a user right after a block, whichever side blocked", async () => {
    const [target, blockedByTarget, blocker] = (await people(3)) as [Seeded, Seeded, Seeded];
    await addFriend(target, blockedByTarget);
    await addFriend(target, blocker);
    const bs = await openSession(edge, blockedByTarget);
    const ks = await openSession(edge, blocker);
    expect(await watchSees(bs, target)).toMatchObject({ status: "offline" });
    expect(await watchSees(ks, target)).toMatchObject({ status: "offline" });
    const ts = await openSession(edge, target, "t-main");
    expect((await nextAbout(bs, target)).status).toBe("online");
    expect((await nextAbout(ks, target)).status).toBe("online");

    const patch = (who: Seeded, other: Seeded) =>
      call(edge, "PATCH", `/v1/friends/${other.id}`, { token: who.token, body: { blocked: true } });
    expect((await patch(target, blockedByTarget)).status).toBe(200);
    expect((await patch(blocker, target)).status).toBe(200);
    // no waiting: the answers came after both sessions forgot each other
    expect(await watchers(target.id)).toEqual([]);
    await ts.close();
    await sleep(600);
    expect(heardOf(bs, target)).toEqual([]);
    expect(heardOf(ks, target)).toEqual([]);
    await watchSeesNothing(bs, target);
    await watchSeesNothing(ks, target);
    await Promise.all([bs.close(), ks.close()]);
  });

  it("stops the updates to a friend you removed, unless you share a room", async () => {
    const [me, friend] = (await people(2)) as [Seeded, Seeded];
    await addFriend(me, friend);
    const fs = await openSession(edge, friend);
    expect(await watchSees(fs, me)).toMatchObject({ status: "offline" });
    expect((await call(edge, "DELETE", `/v1/friends/${friend.id}`, { token: me.token })).status).toBe(204);
    expect(await watchers(me.id)).not.toContain(friend.id);
    await flickerUnseen(fs, me);
    await fs.close();
  });
});
