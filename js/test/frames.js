// stateFrames cuts a snapshot stream (core/snapshot.go's layout: 12 bytes
// of magic and version, then frames of u32 length | u32 CRC-32C | payload
// whose first byte is its kind) down to the payloads of its meta, actors
// and events frames: the state and the feed, byte for byte, without the
// idempotency keys a server's store remembers (keys frames, and the count
// in the end frame), which a replica never holds. Isomorphic: Node tests
// and pages (web-demo/e2e/replica.html) use it.

const HEADER = 12;
const STATE_KINDS = new Set([1, 2, 3]); // meta, actors, events

export function stateFrames(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts = [];
  let n = 0;
  for (let p = HEADER; p + 8 <= bytes.length;) {
    const len = dv.getUint32(p, true);
    const payload = bytes.subarray(p + 8, p + 8 + len);
    if (payload.length !== len) throw new Error(`snapshot frame at ${p} is cut off`);
    if (STATE_KINDS.has(payload[0])) {
      parts.push(payload);
      n += len;
    }
    p += 8 + len;
  }
  const out = new Uint8Array(n);
  n = 0;
  for (const x of parts) {
    out.set(x, n);
    n += x.length;
  }
  return out;
}
