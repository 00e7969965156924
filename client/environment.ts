// What a browser says about the network and the page: `online` (reconnect now instead of at the
// end of a backoff), `offline`, and `visibilitychange` to visible (a laptop that slept may hold
// sockets that died silently: check them, and reconnect what waits). Elsewhere (Node, workerd)
// nothing is there and nothing happens.
interface EventSourceLike {
  addEventListener(type: string, fn: () => void): void;
  removeEventListener(type: string, fn: () => void): void;
}

export interface EnvironmentHooks {
  online(): void;
  offline(): void;
  visible(): void;
}

const g = globalThis as {
  window?: EventSourceLike;
  document?: EventSourceLike & { visibilityState?: string };
  navigator?: { onLine?: unknown };
};

/** false only when the environment says it is offline (a browser's navigator.onLine) */
export function environmentOnline(): boolean {
  return g.navigator?.onLine !== false;
}

/** Listens where the environment has these events; returns the function that stops listening. */
export function watchEnvironment(h: EnvironmentHooks): () => void {
  const win = typeof g.window?.addEventListener === "function" ? g.window : null;
  const doc = typeof g.document?.addEventListener === "function" ? g.document : null;
  const online = () => h.online();
  const offline = () => h.offline();
  const visibility = () => {
    if (g.document?.visibilityState === "visible") h.visible();
  };
  win?.addEventListener("online", online);
  win?.addEventListener("offline", offline);
  doc?.addEventListener("visibilitychange", visibility);
  return () => {
    win?.removeEventListener("online", online);
    win?.removeEventListener("offline", offline);
    doc?.removeEventListener("visibilitychange", visibility);
  };
}
