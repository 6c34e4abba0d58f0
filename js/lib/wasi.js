// A minimal WASI preview 1 shim: the ten imports the Go runtime of
// actorstore.wasm uses (wasm/imports.txt), the same code in browsers and
// Node. No files, arguments or environment: the module needs none.
//
// Real clocks and real randomness (crypto.getRandomValues); runtime output
// on fd 1/2 goes to the console, a line at a time.

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;

const CLOCK_REALTIME = 0;
const EVENTTYPE_CLOCK = 0;

/** Thrown by proc_exit: the Go runtime only exits on a fatal error. */
export class WasiExit extends Error {
  constructor(code) {
    super(`actorstore.wasm exited with code ${code}`);
    this.name = "WasiExit";
    this.code = code;
  }
}

const now = () => performance.timeOrigin + performance.now();

/**
 * createWasi returns { imports, bind(memory) }: pass `imports` as
 * `wasi_snapshot_preview1` and call bind with the instance's memory before
 * `_initialize`.
 */
export function createWasi({ log = (line) => console.error(line) } = {}) {
  let memory;
  // Views are re-made on every call: memory grows and detaches old buffers.
  const dv = () => new DataView(memory.buffer);
  const u8 = () => new Uint8Array(memory.buffer);
  const decoder = new TextDecoder();
  const pending = { 1: "", 2: "" };

  // No arguments, no environment: zero strings of zero bytes.
  const noStrings = (countPtr, bytesPtr) => {
    const view = dv();
    view.setUint32(countPtr, 0, true);
    view.setUint32(bytesPtr, 0, true);
    return ERRNO_SUCCESS;
  };

  const imports = {
    fd_write(fd, iovs, iovsLen, nwritten) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const view = dv();
      const bytes = u8();
      let total = 0;
      let text = "";
      for (let i = 0; i < iovsLen; i++) {
        const ptr = view.getUint32(iovs + 8 * i, true);
        const len = view.getUint32(iovs + 8 * i + 4, true);
        text += decoder.decode(bytes.subarray(ptr, ptr + len), { stream: true });
        total += len;
      }
      const lines = (pending[fd] + text).split("\n");
      pending[fd] = lines.pop();
      for (const line of lines) log(`actorstore.wasm: ${line}`);
      view.setUint32(nwritten, total, true);
      return ERRNO_SUCCESS;
    },

    clock_time_get(id, _precision, out) {
      // Realtime is wall-clock nanoseconds since the epoch; every other
      // clock is monotonic nanoseconds since the page (or process) began.
      const ns = id === CLOCK_REALTIME
        ? BigInt(Math.round(now() * 1e3)) * 1000n
        : BigInt(Math.round(performance.now() * 1e6));
      dv().setBigUint64(out, ns, true);
      return ERRNO_SUCCESS;
    },

    random_get(ptr, len) {
      // getRandomValues fills at most 65,536 bytes per call.
      for (let off = 0; off < len; off += 65536) {
        crypto.getRandomValues(new Uint8Array(memory.buffer, ptr + off, Math.min(65536, len - off)));
      }
      return ERRNO_SUCCESS;
    },

    poll_oneoff(inPtr, outPtr, nsubs, neventsPtr) {
      // Exports never block, so nothing waits here: every subscription is
      // reported ready at once (clock timeouts as elapsed).
      if (nsubs === 0) return ERRNO_INVAL;
      const view = dv();
      for (let i = 0; i < nsubs; i++) {
        const sub = inPtr + 48 * i;
        const ev = outPtr + 32 * i;
        const tag = view.getUint8(sub + 8);
        view.setBigUint64(ev, view.getBigUint64(sub, true), true); // userdata
        view.setUint16(ev + 8, ERRNO_SUCCESS, true);
        view.setUint8(ev + 10, tag);
        view.setBigUint64(ev + 16, 0n, true); // fd_readwrite.nbytes
        view.setUint16(ev + 24, 0, true); // fd_readwrite.flags
        if (tag !== EVENTTYPE_CLOCK) view.setUint16(ev + 8, ERRNO_BADF, true);
      }
      view.setUint32(neventsPtr, nsubs, true);
      return ERRNO_SUCCESS;
    },

    sched_yield() {
      return ERRNO_SUCCESS;
    },

    proc_exit(code) {
      throw new WasiExit(code);
    },

    args_sizes_get: noStrings,
    args_get: () => ERRNO_SUCCESS,
    environ_sizes_get: noStrings,
    environ_get: () => ERRNO_SUCCESS,
  };

  return {
    imports,
    bind(mem) {
      memory = mem;
    },
  };
}
