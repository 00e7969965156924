// watchEnvironment against the DOM event API it listens to: EventTargets stand in for a browser's
// window and document (Node has EventTarget and Event; it has neither window nor document).
import { afterEach, describe, expect, it } from "vitest";
import { environmentOnline, watchEnvironment } from "./environment.js";

const g = globalThis as Record<string, unknown>;

function browserGlobals() {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: "hidden" });
  g.window = window;
  g.document = document;
  return { window, document };
}

function recorder() {
  const calls: string[] = [];
  return {
    calls,
    hooks: {
      online: () => calls.push("online"),
      offline: () => calls.push("offline"),
      visible: () => calls.push("visible"),
    },
  };
}

afterEach(() => {
  delete g.window;
  delete g.document;
  delete g.navigator;
});

describe("watchEnvironment", () => {
  it("hears online and offline on window, and visibilitychange on document only when it turns visible", () => {
    const { window, document } = browserGlobals();
    const { calls, hooks } = recorder();
    watchEnvironment(hooks);
    window.dispatchEvent(new Event("offline"));
    window.dispatchEvent(new Event("online"));
    document.dispatchEvent(new Event("visibilitychange")); // still hidden: a tab going away
    document.visibilityState = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    expect(calls).toEqual(["offline", "online", "visible"]);
  });

  it("stops hearing them once the function it returned is called", () => {
    const { window, document } = browserGlobals();
    const { calls, hooks } = recorder();
    const stop = watchEnvironment(hooks);
    stop();
    document.visibilityState = "visible";
    for (const type of ["online", "offline"]) window.dispatchEvent(new Event(type));
    document.dispatchEvent(new Event("visibilitychange"));
    expect(calls).toEqual([]);
  });

  it("does nothing where there is no window or document (Node, workerd)", () => {
    const { calls, hooks } = recorder();
    const stop = watchEnvironment(hooks);
    stop();
    expect(calls).toEqual([]);
  });

  it("counts as offline only when navigator.onLine is false", () => {
    expect(environmentOnline()).toBe(true);
    g.navigator = { onLine: false };
    expect(environmentOnline()).toBe(false);
    g.navigator = { onLine: true };
    expect(environmentOnline()).toBe(true);
  });
});
