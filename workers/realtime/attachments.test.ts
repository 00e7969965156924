// Attachments a client sends: https links only, refused with a clear error that stores nothing.
import { describe, expect, it } from "vitest";
import { call } from "../../test/support/api.js";
import { useEdge } from "../../test/support/edge.js";
import { openStream } from "../../test/support/sockets.js";
import { direct, people, type Seeded } from "../../test/support/rooms.js";

const edge = useEdge();
const file = (url: string) => ({ id: "f", url, mime: "image/png", size: 1, name: "f.png" });

describe("attachments on a stream", () => {
  it("refuses any attachment URL that is not https:, and stores the https one", async () => {
    const [a, b] = (await people(2)) as [Seeded, Seeded];
    const room = await direct(edge, a, b);
    const s = await openStream(edge, a, room.id);
    const bad = ["http://files.example/f", "ftp://files.example/f", "javascript:alert(1)", "data:image/png;base64,AA"];
    for (const [i, url] of bad.entries()) {
      s.send({ type: "send", room_id: room.id, client_message_id: `bad-${i}`, body: "x", attachments: [file(url)] });
      const err = await s.takeType("error");
      expect(err.code, url).toBe("invalid");
      expect(err.message, url).toMatch(/https/);
    }
    s.send({
      type: "send",
      room_id: room.id,
      client_message_id: "good",
      body: "x",
      attachments: [file("https://files.example/f")],
    });
    expect(await s.takeType("ack")).toMatchObject({ seq: 1, client_message_id: "good" });
    const page = await call(edge, "GET", `/v1/rooms/${room.id}/messages`, { token: b.token });
    expect(page.body.messages.map((m: { client_message_id: string }) => m.client_message_id)).toEqual(["good"]);
    await s.close();
  });
});
