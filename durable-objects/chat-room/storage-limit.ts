// A room's storage ceiling. An object's SQLite database has a hard size limit; a write that
// crosses it fails inside its transaction. The room stops taking messages at a configured size
// below that (sends are refused `unavailable`), so what it stores never fails half way, and the
// room keeps working for everything else (reads, history, the outbox draining).
export class StorageLimit {
  private wasFull = false;

  constructor(
    private readonly size: () => number,
    private readonly limitBytes: number,
    private readonly roomId: () => string,
  ) {}

  /** Whether the database reached the limit; says so loudly once per change. */
  full(): boolean {
    const size = this.size();
    const full = size >= this.limitBytes;
    if (full !== this.wasFull) {
      this.wasFull = full;
      if (full)
        console.error(`room ${this.roomId()}: storage at ${size} bytes (limit ${this.limitBytes}); refusing sends`);
      else console.warn(`room ${this.roomId()}: storage back under its limit (${size} bytes); taking sends again`);
    }
    return full;
  }
}
