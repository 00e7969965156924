// A small typed event emitter. Some events are reports an app must not miss even when it attaches
// its listener late (a reloaded client resends its outbox before the app has opened the room's
// view): report() holds those until the first listener of their type arrives.
export type Listener<T> = (event: T) => void;

/** reports held for a type nobody listens to; past it the oldest go (an app that never listens must not leak) */
export const MAX_HELD_REPORTS = 1000;

export class Emitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();
  private readonly backlog = new Map<keyof E, unknown[]>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(type: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn as Listener<never>);
    const waiting = this.backlog.get(type);
    if (waiting) {
      this.backlog.delete(type);
      // after on() returns, so the caller finishes wiring up before the first report
      queueMicrotask(() => {
        for (const event of waiting) this.report(type, event as E[K]);
      });
    }
    return () => this.off(type, fn);
  }

  off<K extends keyof E>(type: K, fn: Listener<E[K]>): void {
    this.listeners.get(type)?.delete(fn as Listener<never>);
  }

  once<K extends keyof E>(type: K, fn: Listener<E[K]>): () => void {
    const off = this.on(type, (event) => {
      off();
      fn(event);
    });
    return off;
  }

  /** Like emit(), but held until a listener of the type is attached when there is none yet. */
  report<K extends keyof E>(type: K, event: E[K]): void {
    if (this.listeners.get(type)?.size) return this.emit(type, event);
    const list = this.backlog.get(type) ?? [];
    list.push(event);
    if (list.length > MAX_HELD_REPORTS) list.shift();
    this.backlog.set(type, list);
  }

  emit<K extends keyof E>(type: K, event: E[K]): void {
    const set = this.listeners.get(type);
    if (!set || set.size === 0) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<E[K]>)(event);
      } catch (err) {
        // one broken listener must not stop the SDK (or the other listeners) from working
        console.error(`chat client: a "${String(type)}" listener threw`, err);
      }
    }
  }

  /** Drops every listener (and held reports). */
  clear(): void {
    this.listeners.clear();
    this.backlog.clear();
  }
}
