// The web client end to end in a real browser: headless Chromium (Debian's package) driving the
// app the edge serves as static assets, over the real Worker, Durable Objects and PostgreSQL.
// Each person is a browser context of their own; each scenario leaves a screenshot of the chat
// in .artifacts/screenshots/.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { call, register, uniqueHandle } from "../test/support/api.js";
import { useEdge } from "../test/support/edge.js";
import { eventually, openStream } from "../test/support/sockets.js";
import {
  chromiumVersion,
  ensureChromium,
  launchChromium,
  playwrightVersion,
  type RunningBrowser,
} from "../test/support/browser.js";
import { startTcpProxy, type TcpProxy } from "../test/support/tcp-proxy.js";
import { Person } from "./e2e/person.js";

// the history scenario sends 620 messages from one socket at once: lift the per-user send rate
// and the socket's frame budget for this file (they have tests of their own)
const edge = useEdge({
  SEND_RATE_PER_SECOND: "100000",
  SEND_BURST: "100000",
  FRAME_RATE_PER_SECOND: "100000",
  FRAME_BURST: "100000",
});
let chrome: RunningBrowser;
const people: Person[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  ensureChromium();
  chrome = await launchChromium();
  console.log(
    `[e2e] playwright-core ${playwrightVersion()}; ${chromiumVersion()}; the browser reports ${chrome.version}`,
  );
}, 600_000);

afterEach(async (ctx) => {
  // what the pages showed and said, when a scenario failed
  if (ctx.task.result?.state === "fail") {
    for (const [i, p] of people.entries()) {
      await p.screenshot(`failed-${slug(ctx.task.name)}-${i}-${p.name.toLowerCase()}`).catch(() => {});
      if (p.log.length) console.log(`[${p.name}]`, p.log.join("\n"));
    }
  }
  await Promise.all(people.splice(0).map((p) => p.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await chrome?.close();
});

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 40);

/** Someone new at the app (through `url`: the edge, or a proxy of theirs). */
async function newPerson(name: string, url = edge.url): Promise<Person> {
  const p = await Person.open(chrome.browser, url, uniqueHandle(name.toLowerCase()), name);
  people.push(p);
  await p.register();
  return p;
}

/** Two people who added each other, in their direct chat (opened by the first). */
async function friends(a: Person, b: Person): Promise<void> {
  await a.befriend(b);
  await b.befriend(a);
  await a.messageFriend(b);
}

describe("the web client in a real browser", { timeout: 120_000 }, () => {
  it("serves the app at any path the API does not own, and the API under /v1", async () => {
    const page = await edge.fetch("/rooms/00000000-0000-4000-8000-000000000000");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    const api = await edge.fetch("/v1/rooms");
    expect(api.status).toBe(401);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("two people befriend each other and chat both ways, with typing and read ticks", async () => {
    const [ada, bob] = [await newPerson("Ada"), await newPerson("Bob")];
    await friends(ada, bob);

    await ada.send("Hello Bob!");
    await ada.waitForMessage("Hello Bob!");
    // Bob has not opened the chat: his list shows it unread, with the message as its preview
    await bob.tab("Chats");
    const entry = bob.roomEntry("Ada");
    await entry.getByText("Hello Bob!").waitFor({ timeout: 20_000 });
    expect(await entry.getAttribute("aria-label")).toMatch(/1 unread/);

    await bob.openRoom("Ada");
    expect((await bob.waitForMessage("Hello Bob!")).sender).toBe("Ada");
    // Bob read it while the chat is on screen: Ada's tick turns to read
    await ada.waitForTick("Hello Bob!", "read");
    expect(await entry.getAttribute("aria-label")).not.toMatch(/unread/);

    await bob.typeSome("Hi Ada");
    await ada.typingLine().getByText("Bob is typing…").waitFor({ timeout: 10_000 });
    await bob.composer.press("Enter");
    await ada.waitForMessage("Hi Ada");
    expect(await ada.typingLine().textContent()).toBe("");
    await bob.waitForTick("Hi Ada", "read");

    await ada.send("How are you?");
    await bob.waitForMessage("How are you?");
    for (const p of [ada, bob]) {
      expect(await p.bodies()).toEqual(["Hello Bob!", "Hi Ada", "How are you?"]);
    }
    await ada.waitForTick("How are you?", "read");
    // a reload keeps the session (the SDK's IndexedDB) and the room (its path, which the edge answers with the app)
    await bob.page.reload();
    await bob.waitForChat("Ada");
    await bob.waitForMessage("How are you?");
    expect(await bob.bodies()).toEqual(["Hello Bob!", "Hi Ada", "How are you?"]);
    expect(new URL(bob.page.url()).pathname).toMatch(/^\/rooms\/[0-9a-f-]{36}$/);
    await ada.screenshot("direct-chat-ada");
    await bob.screenshot("direct-chat-bob");
  });

  it("a friend's presence shows in the chat, goes at log-out, and comes back when they sign in through the form", async () => {
    const [ada, bob] = [await newPerson("Ada"), await newPerson("Bob")];
    await friends(ada, bob);
    await ada.send("Are you there?");
    await bob.tab("Chats");
    await bob.openRoom("Ada");
    await bob.waitForMessage("Are you there?");
    await ada.chatSubtitle().getByText("online", { exact: true }).waitFor({ timeout: 20_000 });

    await bob.logOut();
    await ada
      .chatSubtitle()
      .getByText(/^last seen /)
      .waitFor({ timeout: 20_000 });

    await bob.signIn();
    await bob.tab("Chats");
    await bob.openRoom("Ada");
    expect((await bob.waitForMessage("Are you there?")).sender).toBe("Ada");
    await ada.chatSubtitle().getByText("online", { exact: true }).waitFor({ timeout: 20_000 });
    // and Bob, back, sees Ada online: his new session watches his friends again
    await bob.chatSubtitle().getByText("online", { exact: true }).waitFor({ timeout: 20_000 });
    await bob.screenshot("signed-in-again-bob");
  });

  it("an edit and a delete reach the other side", async () => {
    const [ada, bob] = [await newPerson("Ada"), await newPerson("Bob")];
    await friends(ada, bob);
    await ada.send("I will be their at six");
    await ada.send("this one goes away");
    await ada.send("see you");
    await bob.openRoom("Ada");
    await bob.waitForMessage("see you");

    await ada.edit("I will be their at six", "I will be there at six");
    await bob.waitForMessage("I will be there at six");
    const edited = (await bob.messages()).find((m) => m.body === "I will be there at six")!;
    expect(edited.status).toBe("edited");
    expect(await bob.message("I will be there at six").getByText("(edited)").count()).toBe(1);

    await ada.remove("this one goes away");
    await bob.waitForMessage("This message was deleted.");
    for (const p of [ada, bob]) {
      const shown = await p.messages();
      expect(shown.map((m) => [m.body, m.status])).toEqual([
        ["I will be there at six", "edited"],
        ["This message was deleted.", "deleted"],
        ["see you", "sent"],
      ]);
      // the seqs stay what they were: an edit or delete takes none
      expect(shown.map((m) => m.seq)).toEqual([shown[0]!.seq, shown[0]!.seq + 1, shown[0]!.seq + 2]);
      expect(await p.page.getByText("this one goes away").count()).toBe(0);
    }
    await bob.screenshot("edit-delete-bob");
  });

  it("someone whose connection drops gets what was sent meanwhile once each, in order, and their pending send goes out", async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(edge.url).port) });
    proxies.push(proxy);
    const [ada, bob] = [await newPerson("Ada", proxy.url), await newPerson("Bob")];
    await friends(ada, bob);
    await ada.send("before the drop");
    await bob.openRoom("Ada");
    await bob.waitForMessage("before the drop");

    // the network goes: every TCP connection of Ada's browser is cut, and the browser knows it is offline
    proxy.block(true);
    proxy.cut();
    await ada.context.setOffline(true);
    await ada.banner().waitFor({ state: "visible", timeout: 20_000 });
    expect(["reconnecting", "offline"]).toContain(await ada.banner().getAttribute("data-state"));

    for (const n of [1, 2, 3]) await bob.send(`while you were away ${n}`);
    await bob.waitForMessage("while you were away 3");
    await ada.send("sent while offline");
    await ada.pending("sent while offline").waitFor({ timeout: 5_000 });
    expect(await ada.pending("sent while offline").getAttribute("data-state")).toBe("pending");
    expect(await ada.bodies()).toEqual(["before the drop"]);
    await ada.screenshot("offline-ada-pending");

    // back: the browser fires `online`, and the app reconnects and catches up
    proxy.block(false);
    await ada.context.setOffline(false);
    await ada.banner().waitFor({ state: "hidden", timeout: 30_000 });
    await ada.waitForMessage("while you were away 3", 30_000);
    await ada.waitForMessage("sent while offline", 30_000);
    await bob.waitForMessage("sent while offline", 30_000);
    const expected = [
      "before the drop",
      "while you were away 1",
      "while you were away 2",
      "while you were away 3",
      "sent while offline",
    ];
    for (const p of [ada, bob]) {
      const shown = await p.messages();
      expect(shown.map((m) => m.body)).toEqual(expected);
      expect(new Set(shown.map((m) => m.seq)).size).toBe(expected.length);
      expect(shown.map((m) => m.seq)).toEqual([...shown.map((m) => m.seq)].sort((x, y) => x - y));
    }
    expect(await ada.page.locator("li.message.pending").count()).toBe(0);
    await ada.screenshot("offline-ada-caught-up");
  });

  it("a group of three: created, a member added, mentions highlighted, everyone sees one order", async () => {
    const [ada, bob, cyd] = [await newPerson("Ada"), await newPerson("Bob"), await newPerson("Cyd")];
    await ada.befriend(bob);
    await ada.befriend(cyd);
    // favorites first: Cyd, starred, moves above Bob
    expect(await ada.friendNames()).toEqual(["Bob", "Cyd"]);
    await ada.page.getByRole("button", { name: `Favorite ${cyd.name}` }).click();
    await eventually(async () => (await ada.friendNames())[0] === "Cyd", 10_000);
    expect(await ada.page.getByRole("button", { name: `Favorite ${cyd.name}` }).getAttribute("aria-pressed")).toBe(
      "true",
    );
    await ada.screenshot("people-ada");

    await ada.tab("Chats");
    await ada.page.getByRole("button", { name: "New group" }).click();
    const dialog = ada.page.getByRole("dialog", { name: "New group" });
    await dialog.getByLabel("Group name").fill("Trio");
    await dialog.getByLabel(new RegExp(`^${bob.name}`)).check();
    await dialog.getByRole("button", { name: "Create group" }).click();
    // a modal dialog leaves the page inert until it closes
    await dialog.waitFor({ state: "hidden", timeout: 20_000 });
    await ada.waitForChat("Trio");
    expect(await ada.chatSubtitle().textContent()).toBe("2 members");

    await ada.page.getByRole("button", { name: "Add people" }).click();
    const add = ada.page.getByRole("dialog", { name: "Add people to Trio" });
    await add.getByLabel(new RegExp(`^${cyd.name}`)).check();
    await add.getByRole("button", { name: "Add", exact: true }).click();
    await add.waitFor({ state: "hidden", timeout: 20_000 });
    await ada.chatSubtitle().getByText("3 members").waitFor({ timeout: 20_000 });

    await ada.send(`Welcome @${bob.handle} and @${cyd.handle}!`);
    for (const p of [bob, cyd]) {
      await p.openRoom("Trio");
      await p.waitForMessage(`Welcome @${bob.handle} and @${cyd.handle}!`);
    }
    // each reader sees their own name marked as calling them, the other's as a mention
    const welcome = `Welcome @${bob.handle} and @${cyd.handle}!`;
    expect(await bob.message(welcome).locator("mark.mention-me").textContent()).toBe(`@${bob.handle}`);
    expect(await bob.message(welcome).locator("mark.mention-other").textContent()).toBe(`@${cyd.handle}`);
    expect(await cyd.message(welcome).locator("mark.mention-me").textContent()).toBe(`@${cyd.handle}`);
    await ada.waitForTick(welcome, "read");

    await bob.send("Thanks!");
    await cyd.waitForMessage("Thanks!");
    await cyd.send("Glad to be here");
    for (const p of [ada, bob, cyd]) await p.waitForMessage("Glad to be here");
    const orders = await Promise.all([ada, bob, cyd].map((p) => p.messages()));
    for (const shown of orders) {
      expect(shown.map((m) => m.body)).toEqual([welcome, "Thanks!", "Glad to be here"]);
      expect(shown.map((m) => m.seq)).toEqual(orders[0]!.map((m) => m.seq));
    }
    expect(orders[0]!.map((m) => m.sender)).toEqual(["You", "Bob", "Cyd"]);
    expect(orders[1]!.map((m) => m.sender)).toEqual(["Ada", "You", "Cyd"]);
    await eventually(async () => (await ada.page.locator("li.message.mine[data-tick=read]").count()) === 1, 20_000);
    await cyd.screenshot("group-cyd");
  });

  it("scrolls back through a long history to its first message, each once, in order", async () => {
    const ada = await newPerson("Ada");
    const bob = await register(edge, { display_name: "Bob" });
    const found = await call(edge, "GET", `/v1/users?q=${ada.handle}`, { token: bob.token });
    const adaId = (found.body.users as Array<{ id: string; handle: string }>).find((u) => u.handle === ada.handle)!.id;
    const room = await call(edge, "POST", "/v1/rooms", { token: bob.token, body: { type: "direct", peer_id: adaId } });
    expect(room.status).toBe(201);
    // more than a stream replays (500): the oldest come only from history pages
    const total = 620;
    const stream = await openStream(edge, bob, room.body.room.id);
    for (let n = 1; n <= total; n++) {
      stream.send({ type: "send", room_id: room.body.room.id, client_message_id: `old-${n}`, body: `old ${n}` });
    }
    const acks = await stream.takeN("ack", total, 60_000);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(total);
    await stream.close();

    await ada.openRoom("Bob");
    await ada.waitForMessage(`old ${total}`);
    const first = (await ada.messages())[0]!;
    expect(first.seq).toBeGreaterThan(1);
    // scroll to the top until the start of the chat shows
    const start = ada.page.getByText("This is the start of the chat.");
    await eventually(
      async () => {
        if (await start.isVisible()) return true;
        await ada.page.locator(".messages").evaluate((el) => el.scrollTo({ top: 0 }));
        return false;
      },
      60_000,
      300,
    );
    const shown = await ada.messages();
    expect(shown.map((m) => m.body)).toEqual(Array.from({ length: total }, (_, i) => `old ${i + 1}`));
    expect(shown.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    await ada.page.locator(".messages").evaluate((el) => el.scrollTo({ top: 0 }));
    await ada.screenshot("history-start-ada");
  });
});
