// Where the client keeps what must outlive it: the signed-in session (its rotating refresh token)
// and the outbox of messages, edits and deletes not yet acknowledged. Values are plain JSON.
// Implementations: memoryStorage() here, indexedDbStorage() for browsers (indexeddb-storage.ts),
// jsonFileStorage() for Node (node-storage.ts, a separate entry: it imports node:fs).
export interface ChatStorage {
  /** undefined when the key is absent */
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** every entry whose key starts with `prefix` */
  entries(prefix: string): Promise<Array<[string, unknown]>>;
}

/**
 * Storage in this process's memory: gone with it, but shared by every client made over the same
 * object (tests "reload" a client that way). Values are kept as JSON text, so what comes back is a
 * copy that later changes of the caller's object cannot reach, as with a real store.
 */
export function memoryStorage(): ChatStorage {
  const data = new Map<string, string>();
  return {
    async get(key) {
      const text = data.get(key);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async set(key, value) {
      data.set(key, JSON.stringify(value));
    },
    async delete(key) {
      data.delete(key);
    },
    async entries(prefix) {
      const out: Array<[string, unknown]> = [];
      for (const [k, v] of data) if (k.startsWith(prefix)) out.push([k, JSON.parse(v)]);
      return out;
    },
  };
}

/** Keys of one client's data in a storage: the session, and one outbox item per key, per user. */
export const storageKeys = {
  session: (ns: string) => `${ns}session`,
  outboxPrefix: (ns: string, userId: string) => `${ns}outbox:${userId}:`,
};
