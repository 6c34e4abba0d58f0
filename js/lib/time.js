// Time between the API and the module: the API speaks milliseconds (a
// clock's numbers, Dates), the module int64 nanoseconds since the Unix
// epoch (wasm/ABI.md, "Conventions").

import { invalidArgument } from "./errors.js";

const MIN_NS = -(1n << 63n);
const MAX_NS = (1n << 63n) - 1n;

/**
 * Milliseconds (a number, fractions kept to the nanosecond, or a Date) to
 * int64 nanoseconds as a BigInt, clamped to the int64 range as the Go
 * host clamps a time.Time (years 1678 to 2262). NaN and anything else that
 * is not a time is INVALID_ARGUMENT.
 */
export function msToNs(t) {
  const ms = typeof t === "number" ? t : t instanceof Date ? t.getTime() : NaN;
  if (Number.isNaN(ms)) throw invalidArgument(`the clock gave ${t}, not a time`);
  if (ms >= 9.3e12) return MAX_NS;
  if (ms <= -9.3e12) return MIN_NS;
  const whole = Math.floor(ms);
  let ns = BigInt(whole) * 1000000n;
  if (whole !== ms) ns += BigInt(Math.round((ms - whole) * 1e6));
  return ns < MIN_NS ? MIN_NS : ns > MAX_NS ? MAX_NS : ns;
}

/** int64 nanoseconds (a BigInt) to a Date: the millisecond at or before. */
export function nsToDate(ns) {
  let ms = ns / 1000000n;
  if (ns < 0n && ms * 1000000n !== ns) ms -= 1n;
  return new Date(Number(ms));
}
