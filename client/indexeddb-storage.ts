// ChatStorage over IndexedDB, for browsers: one object store of key → JSON value. A write resolves
// when its transaction completes, so a message queued before a reload is there after it. Tabs of
// one origin share it (the outbox of one tab is resent by the next tab that starts; the server
// drops the duplicate by client_message_id).
//
// The types below are the few parts of the IndexedDB API used here: the project compiles without
// the DOM library, and the SDK must also load where there is no IndexedDB (Node, workerd).
import type { ChatStorage } from "./storage.js";

interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbCursor {
  key: unknown;
  value: unknown;
  continue(): void;
}
interface IdbStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<undefined>;
  openCursor(range: unknown): IdbRequest<IdbCursor | null>;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readonly" | "readwrite"): IdbTransaction;
  close(): void;
}
export interface IdbFactoryLike {
  open(name: string, version?: number): IdbOpenRequest;
}
export interface IdbKeyRangeLike {
  bound(lower: string, upper: string, lowerOpen?: boolean, upperOpen?: boolean): unknown;
}

const STORE = "kv";

export interface IndexedDbStorageOptions {
  /** the database's name (default "edge-chat") */
  name?: string;
  /** default: the global ones */
  indexedDB?: IdbFactoryLike;
  IDBKeyRange?: IdbKeyRangeLike;
}

export function indexedDbStorage(o: IndexedDbStorageOptions = {}): ChatStorage {
  const g = globalThis as { indexedDB?: IdbFactoryLike; IDBKeyRange?: IdbKeyRangeLike };
  const factory = o.indexedDB ?? g.indexedDB;
  const keyRange = o.IDBKeyRange ?? g.IDBKeyRange;
  if (!factory || !keyRange) throw new Error("indexedDbStorage: there is no IndexedDB here; pass another storage");
  let opened: Promise<IdbDatabase> | null = null;
  const db = () =>
    (opened ??= new Promise<IdbDatabase>((resolve, reject) => {
      const req = factory.open(o.name ?? "edge-chat", 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => {
        opened = null;
        reject(req.error);
      };
      req.onblocked = () => {
        opened = null;
        reject(new Error("indexedDbStorage: the database is blocked by another tab's older version"));
      };
    }));

  /** Runs `fn` in one transaction; resolves with its value once the transaction completed. */
  async function run<T>(mode: "readonly" | "readwrite", fn: (store: IdbStore, done: (v: T) => void) => void) {
    const tx = (await db()).transaction(STORE, mode);
    return new Promise<T>((resolve, reject) => {
      let value: T;
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("indexedDbStorage: transaction aborted"));
      fn(tx.objectStore(STORE), (v) => (value = v));
    });
  }

  return {
    get: (key) =>
      run<unknown>("readonly", (store, done) => {
        const req = store.get(key);
        req.onsuccess = () => done(req.result);
      }),
    set: (key, value) => run<void>("readwrite", (store) => void store.put(value, key)),
    delete: (key) => run<void>("readwrite", (store) => void store.delete(key)),
    entries: (prefix) =>
      run<Array<[string, unknown]>>("readonly", (store, done) => {
        const out: Array<[string, unknown]> = [];
        done(out);
        const req = store.openCursor(keyRange.bound(prefix, `${prefix}\uffff`));
        req.onsuccess = () => {
          const cursor = req.result;
          if (!cursor) return;
          out.push([String(cursor.key), cursor.value]);
          cursor.continue();
        };
      }),
  };
}
