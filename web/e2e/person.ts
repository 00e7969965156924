// One person at the web client, in a browser context of their own (own storage, own sockets):
// what they do (sign up, find people, open chats, type, send, edit, delete) through the same
// labels and buttons a person uses, and what they see, read back from the page.
import fs from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";

export const SCREENSHOTS = path.resolve(import.meta.dirname, "../../.artifacts/screenshots");
const WAIT_MS = 20_000;

export interface SeenMessage {
  seq: number;
  sender: string;
  body: string;
  status: string;
  tick: string | null;
}

export class Person {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly handle: string,
    readonly name: string,
    /** what the page's console and errors said, for a failing test's message */
    readonly log: string[],
  ) {}

  /** A new browser context at `url` (the edge, or a proxy in front of it). */
  static async open(browser: Browser, url: string, handle: string, name: string): Promise<Person> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, locale: "en-GB" });
    const page = await context.newPage();
    const log: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") log.push(`[${m.type()}] ${m.text()}`);
    });
    page.on("pageerror", (err) => log.push(`[pageerror] ${err.message}`));
    await page.goto(url);
    return new Person(context, page, handle, name, log);
  }

  async register(password = "correct horse battery"): Promise<void> {
    const p = this.page;
    await p.getByRole("button", { name: "Create an account" }).click();
    await p.getByLabel("Handle").fill(this.handle);
    await p.getByLabel("Display name").fill(this.name);
    await p.getByLabel("Password").fill(password);
    await p.getByRole("button", { name: "Create account" }).click();
    await p.getByText(`Signed in as ${this.name}`).waitFor({ timeout: WAIT_MS });
  }

  /** Logs out with the header's button: the sign-in form comes back. */
  async logOut(): Promise<void> {
    await this.page.getByRole("button", { name: "Log out" }).click();
    await this.page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: WAIT_MS });
  }

  /** Signs in through the form, as someone coming back does. */
  async signIn(password = "correct horse battery"): Promise<void> {
    const p = this.page;
    await p.getByLabel("Handle").fill(this.handle);
    await p.getByLabel("Password").fill(password);
    await p.getByRole("button", { name: "Sign in", exact: true }).click();
    await p.getByText(`Signed in as ${this.name}`).waitFor({ timeout: WAIT_MS });
  }

  /** Finds someone by handle under People and adds them as a friend. */
  async befriend(other: Person): Promise<void> {
    const p = this.page;
    await this.tab("People");
    await p.getByLabel("Find people").fill(other.handle);
    await p.getByRole("button", { name: "Search", exact: true }).click();
    await p.getByRole("button", { name: `Add ${other.name} as a friend` }).click();
    await p.getByRole("list", { name: "Friends" }).getByText(other.name).waitFor({ timeout: WAIT_MS });
  }

  /** The display names in my friends list, in its order. */
  async friendNames(): Promise<string[]> {
    return this.page
      .getByRole("list", { name: "Friends" })
      .locator("li.person")
      .evaluateAll((items) =>
        items.map((li) => li.querySelector(".person-name")?.firstChild?.textContent?.trim() ?? ""),
      );
  }

  /** Opens the direct chat with a friend from the People tab. */
  async messageFriend(other: Person): Promise<void> {
    await this.tab("People");
    await this.page
      .getByRole("list", { name: "Friends" })
      .getByRole("button", { name: `Message ${other.name}` })
      .click();
    await this.waitForChat(other.name);
  }

  async tab(name: "Chats" | "People"): Promise<void> {
    await this.page.getByRole("tab", { name: new RegExp(`^${name}`) }).click();
  }

  /** The room list entry whose accessible name starts with `title` (it also says presence and unread). */
  roomEntry(title: string): Locator {
    return this.page
      .getByRole("list", { name: "Chats" })
      .getByRole("button", { name: new RegExp(`^${escape(title)}`) });
  }

  async openRoom(title: string): Promise<void> {
    await this.tab("Chats");
    await this.roomEntry(title).click({ timeout: WAIT_MS });
    await this.waitForChat(title);
  }

  async waitForChat(title: string): Promise<void> {
    await this.page.getByRole("heading", { level: 2, name: title, exact: true }).waitFor({ timeout: WAIT_MS });
    await this.page.getByText("Loading messages…").waitFor({ state: "detached", timeout: WAIT_MS });
  }

  get composer(): Locator {
    return this.page.getByRole("textbox", { name: "Message", exact: true });
  }

  async send(text: string): Promise<void> {
    await this.composer.fill(text);
    await this.composer.press("Enter");
  }

  /** Types without sending (the others see "… is typing"). */
  async typeSome(text: string): Promise<void> {
    await this.composer.pressSequentially(text, { delay: 20 });
  }

  /** The stored messages on screen, in the order shown (pending sends are not among them). */
  async messages(): Promise<SeenMessage[]> {
    return this.page.$$eval("ol.message-list > li.message[data-seq]", (items) =>
      items.map((li) => ({
        seq: Number(li.getAttribute("data-seq")),
        sender: li.querySelector(".sender")?.textContent ?? "",
        body: li.querySelector(".body")?.textContent ?? "",
        status: li.getAttribute("data-status") ?? "",
        tick: li.getAttribute("data-tick"),
      })),
    );
  }

  async bodies(): Promise<string[]> {
    return (await this.messages()).map((m) => m.body);
  }

  /** Waits until a stored message with this body is on screen; returns it. */
  async waitForMessage(body: string, timeoutMs = WAIT_MS): Promise<SeenMessage> {
    await this.message(body).waitFor({ timeout: timeoutMs });
    return (await this.messages()).find((m) => m.body === body)!;
  }

  message(body: string): Locator {
    return this.page.locator("ol.message-list > li.message[data-seq]").filter({
      has: this.page.locator(".body", { hasText: new RegExp(`^${escape(body)}$`) }),
    });
  }

  /** Waits until my message with this body shows the tick. */
  async waitForTick(body: string, tick: "sent" | "delivered" | "read", timeoutMs = WAIT_MS): Promise<void> {
    await this.page
      .locator(`ol.message-list > li.message.mine[data-tick="${tick}"]`)
      .filter({ has: this.page.locator(".body", { hasText: new RegExp(`^${escape(body)}$`) }) })
      .waitFor({ timeout: timeoutMs });
  }

  pending(body: string): Locator {
    return this.page.locator("ol.message-list > li.message.pending").filter({ hasText: body });
  }

  /** Under the chat's title: a group's member count, a direct peer's presence. */
  chatSubtitle(): Locator {
    return this.page.locator(".chat-header .subtitle");
  }

  typingLine(): Locator {
    return this.page.locator("p.typing");
  }

  banner(): Locator {
    return this.page.getByRole("status").and(this.page.locator(".banner"));
  }

  async edit(body: string, next: string): Promise<void> {
    const item = this.message(body);
    await item.hover();
    await item.getByRole("button", { name: "Edit message" }).click();
    const box = this.page.getByRole("textbox", { name: "Edit message" });
    await box.fill(next);
    await box.press("Enter");
  }

  async remove(body: string): Promise<void> {
    const item = this.message(body);
    await item.hover();
    await item.getByRole("button", { name: "Delete message" }).click();
    await item.getByRole("button", { name: "Delete", exact: true }).click();
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => {});
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
