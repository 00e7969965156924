// The session socket (/v1/connect): what concerns the user across rooms. Activity of rooms the
// device holds no stream of, read sync from the user's other devices, room events, and presence
// of the users the app watches. The watch list is the union of every watch() still running, sent
// again on each new socket (the server forgets a device's list when its last socket closes).
import {
  Id,
  MAX_WATCHED_USERS,
  TicketBody,
  WatchPresenceFrame,
  AuthFrame,
  type ServerFrame,
  type TicketResponse,
} from "../protocol/index.js";
import type { z } from "zod";
import type { Auth, SignedOutReason } from "./auth.js";
import { closeAction } from "./close-policy.js";
import type { Connection, ConnectionHooks, ConnectionState, Verdict } from "./connection.js";
import { ChatError, describeIssues } from "./errors.js";
import type { Http } from "./http.js";
import { randomId } from "./ids.js";

export type ActivityFrame = Extract<ServerFrame, { type: "activity" }>;
export type ReadSyncFrame = Extract<ServerFrame, { type: "read_sync" }>;
export type PresenceFrame = Extract<ServerFrame, { type: "presence" }>;
export type RoomEventFrame = Extract<ServerFrame, { type: "room" }>;
export type ErrorFrame = Extract<ServerFrame, { type: "error" }>;
export type Presence = Omit<PresenceFrame, "type">;

export interface SessionHost {
  http: Http;
  auth: Auth;
  deviceId: string;
  wsUrl(pathAndQuery: string): string;
  connection(hooks: ConnectionHooks): Connection;
  signOut(reason: SignedOutReason): void;
  frame(frame: ActivityFrame | ReadSyncFrame | PresenceFrame | RoomEventFrame | ErrorFrame): void;
  state(state: ConnectionState): void;
}

/** watch() calls within this long are sent as one frame (the server allows a few, then one per 5 s) */
const WATCH_DEBOUNCE_MS = 100;

export class SessionSocket {
  readonly conn: Connection;
  private readonly watched = new Map<string, number>();
  private readonly statuses = new Map<string, Presence>();
  private watchTimer: ReturnType<typeof setTimeout> | null = null;
  private lastWatchId: string | null = null;
  private ticketGeneration = 0;
  private readonly offToken: () => void;

  constructor(private readonly host: SessionHost) {
    this.offToken = host.auth.events.on("token", ({ access_token }) => this.sendAuth(access_token));
    this.conn = host.connection(this.hooks());
  }

  start(): void {
    this.conn.start();
  }

  stop(): void {
    this.offToken();
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = null;
    this.conn.stop();
  }

  /** Watches these users' presence until the returned function is called. */
  watch(userIds: string[]): () => void {
    const valid = Id.array().safeParse(userIds);
    if (!valid.success) throw new ChatError("invalid", describeIssues(valid.error.issues));
    const ids = [...new Set(valid.data.map((id) => id.toLowerCase()))];
    for (const id of ids) this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
    this.scheduleWatch();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const id of ids) {
        const n = (this.watched.get(id) ?? 1) - 1;
        if (n > 0) this.watched.set(id, n);
        else this.watched.delete(id);
      }
      this.scheduleWatch();
    };
  }

  /** The last status heard of a watched user. */
  presenceOf(userId: string): Presence | undefined {
    return this.statuses.get(userId.toLowerCase());
  }

  private hooks(): ConnectionHooks {
    return {
      url: async () => {
        const t = await this.host.http.request<TicketResponse>("POST", "/v1/connect/ticket", {
          body: TicketBody.parse({ device_id: this.host.deviceId }),
          idempotent: true,
        });
        this.ticketGeneration = this.host.auth.generation;
        return this.host.wsUrl(`/v1/connect?ticket=${encodeURIComponent(t.ticket)}`);
      },
      opened: () => {
        if (this.host.auth.generation !== this.ticketGeneration) {
          const token = this.host.auth.currentToken();
          if (token) this.sendAuth(token);
        }
        if (this.watched.size > 0) this.sendWatch();
      },
      frame: (f) => this.onFrame(f),
      closed: (c) => this.onClosed(c.code),
      failed: (err) => this.onFailed(err),
      state: (s) => this.host.state(s),
    };
  }

  private async onClosed(code: number): Promise<Verdict> {
    const action = closeAction(code, "session");
    if (action.do === "sign_out") {
      this.host.signOut(action.reason);
      return { stop: true };
    }
    if (action.do === "refresh") {
      try {
        await this.host.auth.refresh();
      } catch (err) {
        if (err instanceof ChatError && err.code === "signed_out") return { stop: true };
      }
      return { immediate: true };
    }
    return action.do === "reconnect" && action.minDelayMs ? { minDelayMs: action.minDelayMs } : {};
  }

  private onFailed(err: unknown): Verdict {
    if (err instanceof ChatError) {
      if (err.code === "signed_out" || !this.host.auth.signedIn) return { stop: true };
      if (err.code === "rate_limited" && err.retryAfterMs) return { minDelayMs: err.retryAfterMs };
    }
    return {};
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case "presence": {
        const { type: _type, ...presence } = f;
        this.statuses.set(f.user_id, presence);
        return this.host.frame(f);
      }
      case "activity":
      case "read_sync":
      case "room":
        return this.host.frame(f);
      case "error":
        // our watch list was refused for coming too often: the newest one goes out after the wait
        if (f.code === "rate_limited" && f.ref && f.ref === this.lastWatchId) {
          return this.scheduleWatch(f.retry_after_ms ?? 5000);
        }
        return this.host.frame(f);
      default:
        return;
    }
  }

  private scheduleWatch(delayMs = WATCH_DEBOUNCE_MS): void {
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(() => {
      this.watchTimer = null;
      this.sendWatch();
    }, delayMs);
  }

  private sendWatch(): void {
    const id = randomId("watch");
    const frame = WatchPresenceFrame.parse({
      type: "watch_presence",
      id,
      user_ids: [...this.watched.keys()].slice(0, MAX_WATCHED_USERS),
    });
    if (this.conn.send(JSON.stringify(frame))) this.lastWatchId = id;
  }

  private sendAuth(token: string): void {
    this.conn.send(
      JSON.stringify({ type: "auth", id: randomId("auth"), access_token: token } satisfies z.infer<typeof AuthFrame>),
    );
  }
}
