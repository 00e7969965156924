// Where a room's stream resumes its changes (`after_rev`). The server replays, after the messages,
// the `update` frames of changes after `after_rev` to the messages the client holds, then `synced`
// with `last_rev`. A rev may become the cursor only once every change at or below it is held, and
// most revs the client sees do not say that:
//
// - a replayed message carries its own rev, but the updates to older messages come after it, with
//   lower revs: a cut between the two would skip them for good;
// - the replay's updates are the newest MAX_REPLAY (or fewer, past the byte budget), so even the
//   first of them can be far above `after_rev`: a cut among them would skip the older ones;
// - `synced.updates_has_more` says changes were left out altogether: `last_rev` counts only once
//   the held messages were reloaded (history pages show current versions).
//
// So nothing in a replay moves the cursor; `synced` moves it to `last_rev` (the server's own
// cursor, even when lower: a room that lost its storage started its revs over), after the reload
// when there is one; and once synced, each live `update` moves it (live changes come in rev order,
// none left out), held back like `last_rev` while a reload is due.
export class RevCursor {
  private committed = 0;
  private known = false;
  /** the highest rev this socket made safe, once its reload (if any) is done */
  private reached = 0;
  private replaying = false;
  private reloadDue = false;
  private socket = 0;

  /** `after_rev` for the next stream: none before the first `synced` (a room new to us has no changes to catch up on) */
  get afterRev(): number | undefined {
    return this.known ? this.committed : undefined;
  }

  /** A new socket: its replay is on its way. */
  opened(): void {
    this.socket++;
    this.replaying = true;
    this.reloadDue = false;
    this.reached = this.committed;
  }

  /** An `update` frame: one after `synced` is live and counts; one in a replay does not. */
  update(rev: number): void {
    if (this.replaying) return;
    this.reached = Math.max(this.reached, rev);
    if (!this.reloadDue) this.committed = this.reached;
  }

  /**
   * The replay is done. Returns a token when the held messages must be reloaded first (pass it to
   * reloaded()), else null.
   */
  synced(lastRev: number | undefined, updatesHasMore: boolean): number | null {
    this.replaying = false;
    this.known = true;
    if (lastRev !== undefined) this.reached = lastRev;
    this.reloadDue = updatesHasMore;
    if (updatesHasMore) return this.socket;
    this.committed = this.reached;
    return null;
  }

  /** The held messages were reloaded after the `synced` that gave `token`; a stale token (an older socket's) does nothing. */
  reloaded(token: number): void {
    if (token !== this.socket || !this.reloadDue) return;
    this.reloadDue = false;
    this.committed = this.reached;
  }
}
