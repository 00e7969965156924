// This browser's device id: made once and kept, so tickets, logins and logout name the same
// device across reloads (a device that logged in before passes a handle's login lock).
const KEY = "edge-chat:device-id";

export function deviceId(store: Pick<Storage, "getItem" | "setItem">): string {
  const held = store.getItem(KEY);
  if (held && /^[A-Za-z0-9_\-:.]{1,64}$/.test(held)) return held;
  const id = `web-${crypto.randomUUID()}`;
  store.setItem(KEY, id);
  return id;
}
