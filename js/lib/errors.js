// The store's one error type, and the helpers every part of the host
// shares to make and report errors.

/** Every failure of the store is an ActorStoreError with a `code`. */
export class ActorStoreError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = "ActorStoreError";
    this.code = code;
    if (details) {
      for (const k of ["expected", "actual", "requested", "oldest", "index"]) {
        if (details[k] !== undefined) this[k] = details[k];
      }
    }
  }
}

/** An INVALID_ARGUMENT error; message follows "invalid argument: ". */
export function invalidArgument(message) {
  return new ActorStoreError("INVALID_ARGUMENT", `invalid argument: ${message}`);
}

export function closedError() {
  return new ActorStoreError("CLOSED", "closed: the store is closed");
}

/**
 * Reports an error no caller can receive (a throwing subscriber callback,
 * a failed background snapshot) the way the platform reports uncaught ones.
 */
export const reportError = globalThis.reportError ?? ((e) => console.error(e));
