// Presence scope through the public API: you are visible to the people you added and to the
// co-members of your rooms, never across a block, and a change that ends it stops the updates.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { type TestSocket, eventually, openSession, sleep } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

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

/** `watcher`'s device watches `target`; the answers that came within 300 ms. */
async function watch(watcher: TestSocket, target: Seeded) {
  watcher.send({ type: "watch_presence", user_ids: [target.id] });
  await sleep(300);
  return heardOf(watcher, target);
}

/** `target` comes online on a device and leaves again; what `watcher` heard of it. */
async function flicker(watcher: TestSocket, target: Seeded): Promise<string[]> {
  const s = await openSession(edge, target, `flicker-${Date.now()}`);
  await sleep(300);
  await s.close();
  await sleep(400);
  return heardOf(watcher, target).map((f) => f.status as string);
}

describe("presence scope", () => {
  it("shows nothing to a one-way adder, and shows you to the people you added", async () => {
    const [adder, target, chosen] = (await people(3)) as [Seeded, Seeded, Seeded];
    await addFriend(adder, target); // no consent asked: this gives adder no sight of target
    await addFriend(target, chosen);
    const as = await openSession(edge, adder);
    expect(await watch(as, target)).toEqual([]);
    expect(await flicker(as, target)).toEqual([]);
    expect(await watchers(target.id)).not.toContain(adder.id);

    const cs = await openSession(edge, chosen);
    const answer = await watch(cs, target);
    expect(answer).toHaveLength(1);
    expect(answer[0]).toMatchObject({ status: "offline" });
    expect(answer[0]!.last_seen_at).toBeDefined();
    expect(await flicker(cs, target)).toEqual(["online", "offline"]);
    await Promise.all([as.close(), cs.close()]);
  });

  it("shows a co-member, and stops the updates once either of them is out of the shared room", async () => {
    const [owner, member] = (await people(2)) as [Seeded, Seeded];
    const g = await group(edge, owner, [member]);
    const ms = await openSession(edge, member);
    expect(await watch(ms, owner)).toMatchObject([{ status: "offline" }]);
    expect(await flicker(ms, owner)).toEqual(["online", "offline"]);

    expect((await call(edge, "DELETE", `/v1/rooms/${g.id}/members/${member.id}`, { token: owner.token })).status).toBe(
      204,
    );
    // the removed member's session asks again, and the owner's session forgets it as a watcher
    await eventually(async () => !(await watchers(owner.id)).includes(member.id));
    expect(await flicker(ms, owner)).toEqual([]);
    expect(await watch(ms, owner)).toEqual([]);
    await ms.close();
  });

  it("stops every update to a user right after a block, whichever side blocked", async () => {
    const [target, blockedByTarget, blocker] = (await people(3)) as [Seeded, Seeded, Seeded];
    await addFriend(target, blockedByTarget);
    await addFriend(target, blocker);
    const bs = await openSession(edge, blockedByTarget);
    const ks = await openSession(edge, blocker);
    expect(await watch(bs, target)).toHaveLength(1);
    expect(await watch(ks, target)).toHaveLength(1);
    const ts = await openSession(edge, target, "t-main");
    expect((await bs.take((f) => f.type === "presence" && f.user_id === target.id)).status).toBe("online");
    expect((await ks.take((f) => f.type === "presence" && f.user_id === target.id)).status).toBe("online");

    const patch = (who: Seeded, other: Seeded) =>
      call(edge, "PATCH", `/v1/friends/${other.id}`, { token: who.token, body: { blocked: true } });
    expect((await patch(target, blockedByTarget)).status).toBe(200);
    expect((await patch(blocker, target)).status).toBe(200);
    // no waiting: the answer came after both sessions forgot each other
    await ts.close();
    await sleep(500);
    expect(bs.seen("presence")).toEqual([]);
    expect(ks.seen("presence")).toEqual([]);
    expect(await watch(bs, target)).toEqual([]);
    expect(await watch(ks, target)).toEqual([]);
    await Promise.all([bs.close(), ks.close()]);
  });

  it("stops the updates to a friend you removed, unless you share a room", async () => {
    const [me, friend] = (await people(2)) as [Seeded, Seeded];
    await addFriend(me, friend);
    const fs = await openSession(edge, friend);
    expect(await watch(fs, me)).toHaveLength(1);
    expect((await call(edge, "DELETE", `/v1/friends/${friend.id}`, { token: me.token })).status).toBe(204);
    expect(await watchers(me.id)).not.toContain(friend.id);
    expect(await flicker(fs, me)).toEqual([]);
    await fs.close();
  });
});
