// A new room is announced only to the sessions that may be online (users.online_since, written by
// the session before its socket opens): a 1,000-member group must not wake 1,000 idle sessions.
import { describe, expect, it } from "vitest";
import { db } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { eventually, openSession } from "../../test/support/sockets.js";
import { group, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();

const inspectRoom = (roomId: string) =>
  edge.mf.getDurableObjectNamespace("CHAT_ROOM").then((n) =>
    (
      n.get(n.idFromName(roomId)) as unknown as {
        inspect(): Promise<{ announced: number; subscribed: string[] }>;
      }
    ).inspect(),
  );
const onlineSince = async (userId: string) =>
  (await db().query(`select online_since from users where id = $1`, [userId])).rows[0].online_since as Date | null;

describe("room announcements", () => {
  it("reach only sessions that may be online; the others find the room when they come online", async () => {
    const [owner, online, ...offline] = (await people(6)) as [Seeded, Seeded, ...Seeded[]];
    const session = await openSession(edge, online);
    expect(await onlineSince(online.id)).not.toBeNull();
    expect(await onlineSince(offline[0]!.id)).toBeNull();

    const g = await group(edge, owner, [online, ...offline]);
    expect(await session.take((f) => f.type === "room" && f.room_id === g.id)).toMatchObject({ event: "created" });
    await eventually(async () => (await inspectRoom(g.id)).subscribed.includes(online.id));
    // the owner (who made it) and four offline members: no session of theirs was called
    expect((await inspectRoom(g.id)).announced).toBe(1);

    // an offline member who comes online lists the room and subscribes to it
    const late = await openSession(edge, offline[0]!);
    await eventually(async () => (await inspectRoom(g.id)).subscribed.includes(offline[0]!.id));

    // the last socket's close clears the hint
    await session.close();
    await eventually(async () => (await onlineSince(online.id)) === null);
    await late.close();
  });
});
