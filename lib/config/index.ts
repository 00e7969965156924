// Reading numbers from the environment for the services (the Durable Objects, the cassandra-sink).
// A value that is set but wrong stops the service with a message naming the variable, what it got
// and what it accepts: a silent fallback would run production on a value nobody chose. Unset or
// empty means "the default", so a deployment only lists what it changes.

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Environment values as the runtimes hand them over: strings, or numbers from a JSON-typed var. */
export type ConfigEnv = Readonly<Record<string, unknown>>;

export interface NumberRule {
  default: number;
  min?: number;
  max?: number;
}

const WHOLE = /^\d+$/;
// no sign, exponent, hex or padding: "1e3", "0x10" and " 5" are typos more often than intent
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** A whole number within the rule's bounds. */
export function wholeNumber(env: ConfigEnv, name: string, rule: NumberRule): number {
  return read(env, name, rule, WHOLE, Number.isSafeInteger, "a whole number");
}

/** A number with or without a fraction (rates, days) within the rule's bounds. */
export function decimalNumber(env: ConfigEnv, name: string, rule: NumberRule): number {
  return read(env, name, rule, DECIMAL, Number.isFinite, "a number");
}

function read(
  env: ConfigEnv,
  name: string,
  rule: NumberRule,
  form: RegExp,
  fits: (n: number) => boolean,
  kind: string,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return rule.default;
  const n = typeof raw === "number" ? raw : typeof raw === "string" && form.test(raw) ? Number(raw) : NaN;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = rule;
  if (!fits(n) || n < min || n > max)
    throw new ConfigError(`${name} must be ${kind} ${allowed(min, max)}, got ${JSON.stringify(raw)}`);
  return n;
}

function allowed(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
}
