import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/index.js";
import { isAllowedPushEndpoint, pushOriginRule } from "./index.js";

describe("push origins", () => {
  const defaults = pushOriginRule(undefined);

  it("allows the browser vendors' push services by default", () => {
    expect(isAllowedPushEndpoint("https://fcm.googleapis.com/fcm/send/abc", defaults)).toBe(true);
    expect(isAllowedPushEndpoint("https://updates.push.services.mozilla.com/wpush/v2/x", defaults)).toBe(true);
    expect(isAllowedPushEndpoint("https://web.push.apple.com/QG", defaults)).toBe(true);
    expect(isAllowedPushEndpoint("https://wns2-par02p.notify.windows.com/w/?token=x", defaults)).toBe(true);
  });

  it("refuses anything else: other hosts, http, credentials, look-alike suffixes, other ports", () => {
    for (const bad of [
      "https://evil.example.com/push",
      "http://fcm.googleapis.com/fcm/send/abc",
      "https://user:pw@fcm.googleapis.com/x",
      "https://fcm.googleapis.com.evil.com/x",
      "https://evilnotify.windows.com/x",
      "https://wns.notify.windows.com:8443/x",
      "https://169.254.169.254/latest",
      "not a url",
    ])
      expect(isAllowedPushEndpoint(bad, defaults), bad).toBe(false);
  });

  it("takes a configured list instead of the defaults (a local stand-in with a port)", () => {
    const rule = pushOriginRule("https://127.0.0.1:18999, https://push.example.org");
    expect(isAllowedPushEndpoint("https://127.0.0.1:18999/sub/1", rule)).toBe(true);
    expect(isAllowedPushEndpoint("https://127.0.0.1:19000/sub/1", rule)).toBe(false);
    expect(isAllowedPushEndpoint("https://fcm.googleapis.com/fcm/send/abc", rule)).toBe(false);
  });

  it("refuses a malformed list loudly", () => {
    expect(() => pushOriginRule("http://127.0.0.1:18999")).toThrow(ConfigError);
    expect(() => pushOriginRule("https://push.example.org/path")).toThrow(ConfigError);
    expect(() => pushOriginRule("fcm.googleapis.com")).toThrow(ConfigError);
  });
});
