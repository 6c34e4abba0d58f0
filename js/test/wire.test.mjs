// The replica's wire readers (lib/wire.js, lib/replica-sync.js): CBOR
// answers and watch messages read with stored values kept as their bytes,
// RFC 3339 timestamps to nanoseconds, events to mutation records; and a
// bounded randomized run (fixed seed) of arbitrary bytes through each, which
// must only ever throw Errors, never hang or crash.

import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeValue, decodeValue } from "../actorstore.js";
import { CBORWriter, readCBOR, rfc3339ToNs, wellFormed } from "../lib/wire.js";
import { eventRecords, watchProtocols } from "../lib/replica-sync.js";
import { opRecord } from "../lib/record.js";
import { KIND } from "../lib/abi.js";
import { hex } from "./helpers.mjs";

test("readCBOR reads answers and keeps stored values as their bytes", () => {
  const value = encodeValue({ a: [1, 2.5, "x", null, true, new Uint8Array([1, 2])], big: 2n ** 64n });
  const body = new CBORWriter().map(3).text("results").array(1).map(2).text("actor").map(4)
    .text("type").text("t").text("id").text("é/x").text("version").uint(2 ** 40).text("value").raw(value)
    .text("found").raw(Uint8Array.of(0xf5)).text("neg").raw(Uint8Array.of(0x3b, 0, 0, 0, 1, 0, 0, 0, 0))
    .text("f").raw(Uint8Array.of(0xf9, 0x3c, 0x00)).bytes();
  const got = readCBOR(body);
  const a = got.results[0].actor;
  assert.equal(a.id, "é/x");
  assert.equal(a.version, 2 ** 40);
  assert.equal(hex(a.value), hex(value), "the value's bytes, not decoded");
  assert.equal(decodeValue(a.value).big, 2n ** 64n);
  assert.equal(got.results[0].found, true);
  assert.equal(got.neg, -(2 ** 32) - 1);
  assert.equal(got.f, 1);
  assert.throws(() => readCBOR(Uint8Array.of(0x01, 0x02)), /trailing/);
  assert.throws(() => readCBOR(Uint8Array.of(0x82, 0x01)), /length out of range/);
  assert.throws(() => readCBOR(Uint8Array.of(0x9f, 0x01)), /unexpected end/);
});

test("wellFormed follows CBOR's structure", () => {
  for (const h of ["01", "f6", "8201a0", "5f4101ff", "9f01ff", "bf6161 01ff".replace(" ", ""), "c10a"]) {
    assert.ok(wellFormed(Uint8Array.from(Buffer.from(h, "hex"))), h);
  }
  for (const h of ["", "ff", "82", "0101", "1c", "5f01ff", "7f"]) {
    assert.ok(!wellFormed(Uint8Array.from(Buffer.from(h, "hex"))), h);
  }
});

test("rfc3339ToNs reads the server's timestamps to the nanosecond, and offsets", () => {
  assert.equal(rfc3339ToNs("1970-01-01T00:00:00Z"), 0n);
  assert.equal(rfc3339ToNs("2026-01-02T03:04:05.000000600Z"), 1767323045000000600n);
  assert.equal(rfc3339ToNs("1969-12-31T23:59:59.999999999Z"), -1n);
  assert.equal(rfc3339ToNs("2026-01-02T04:04:05.5+01:00"), 1767323045500000000n);
  assert.equal(rfc3339ToNs("1677-09-21T00:12:43.145224192Z"), -(2n ** 63n));
  assert.equal(rfc3339ToNs("2262-04-11T23:47:16.854775807Z"), 2n ** 63n - 1n);
  for (const bad of ["", "2026-01-02", "2026-01-02T03:04:05", "2026-01-02T03:04:05.1234567890Z", 5]) {
    assert.throws(() => rfc3339ToNs(bad), /not an RFC 3339 time/);
  }
});

const eventRecord = (b) => {
  const evs = eventRecords(b);
  assert.equal(evs.length, 1);
  return evs[0];
};

test("eventRecords makes the record that makes the event", () => {
  const value = encodeValue({ x: 1 });
  const msg = new CBORWriter().map(9).text("sequence").uint(7).text("operation").text("update").text("type").text("card")
    .text("id").text("c1").text("previousVersion").uint(2).text("previousValue").raw(encodeValue(0))
    .text("newVersion").uint(3).text("newValue").raw(value).text("timestamp").text("2026-01-02T03:04:05.000000600Z").bytes();
  const ev = eventRecord(msg);
  assert.equal(hex(ev.record), hex(opRecord(7, 1767323045000000600n, KIND.update, "card", "c1", value)));
  assert.deepEqual([ev.sequence, ev.operation, ev.newVersion, ev.previousVersion], [7, "update", 3, 2]);
  const del = new CBORWriter().map(6).text("sequence").uint(8).text("operation").text("delete").text("type").text("card")
    .text("id").text("c1").text("newValue").raw(Uint8Array.of(0xf6)).text("timestamp").text("2026-01-02T03:04:05Z").bytes();
  assert.equal(hex(eventRecord(del).record), hex(opRecord(8, 1767323045000000000n, KIND.delete, "card", "c1")), "a delete's record has no value");
  assert.throws(() => eventRecord(new CBORWriter().map(1).text("sequence").uint(0).bytes()), /not an event/);
});

test("eventRecords reads a batched message: an array of events, each with its record", () => {
  const event = (w, seq, op, value) => {
    w.map(6).text("sequence").uint(seq).text("operation").text(op).text("type").text("card").text("id").text(`c${seq}`)
      .text("newValue").raw(value).text("timestamp").text("2026-01-02T03:04:05Z");
    return w;
  };
  const v = encodeValue([1, "two"]);
  const w = new CBORWriter().array(3);
  event(w, 10, "insert", v);
  event(w, 11, "update", v);
  event(w, 12, "delete", Uint8Array.of(0xf6));
  const evs = eventRecords(w.bytes());
  assert.deepEqual(evs.map((e) => [e.sequence, e.operation, e.id]), [[10, "insert", "c10"], [11, "update", "c11"], [12, "delete", "c12"]]);
  assert.equal(hex(evs[1].record), hex(opRecord(11, 1767323045000000000n, KIND.update, "card", "c11", v)));
  assert.equal(hex(evs[2].record), hex(opRecord(12, 1767323045000000000n, KIND.delete, "card", "c12")));
  assert.throws(() => eventRecords(new CBORWriter().array(0).bytes()), /empty batch/);
  assert.throws(() => eventRecords(event(new CBORWriter().array(2), 1, "insert", v).uint(5).bytes()), /not an event/);
});

test("the token's subprotocol is base64url without padding", () => {
  assert.deepEqual(watchProtocols(undefined), ["actorstore.v1"]);
  assert.deepEqual(watchProtocols("s3cr/t+?"), ["actorstore.v1", `actorstore.token.${Buffer.from("s3cr/t+?").toString("base64url")}`]);
  assert.match(watchProtocols("é".repeat(7))[1], /^actorstore\.token\.[A-Za-z0-9_-]+$/);
});

test("arbitrary bytes through the readers: Errors only, never a hang or a crash (seeded, bounded)", () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const valid = [encodeValue({ a: [1, "x", { b: null }] }), encodeValue([1.5, -2, "é"]),
    new CBORWriter().map(2).text("sequence").uint(1).text("operation").text("insert").bytes(),
    new CBORWriter().array(1).map(6).text("sequence").uint(1).text("operation").text("insert").text("type").text("t")
      .text("id").text("i").text("newValue").raw(encodeValue(1)).text("timestamp").text("2026-01-02T03:04:05Z").bytes()];
  const t0 = Date.now();
  for (let i = 0; i < 20_000; i++) {
    let b;
    if (i % 2) {
      b = Uint8Array.from({ length: Math.floor(rand() * 24) }, () => Math.floor(rand() * 256));
    } else {
      b = valid[i % valid.length].slice(); // a valid item, damaged
      for (let k = 0; k < 1 + rand() * 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      if (rand() < 0.3) b = b.subarray(0, Math.floor(rand() * b.length));
    }
    for (const f of [readCBOR, wellFormed, eventRecords]) {
      try {
        f(b);
      } catch (e) {
        assert.ok(e instanceof Error, `${f.name} threw ${e} for ${hex(b)}`);
      }
    }
    if (wellFormed(b)) assert.doesNotThrow(() => readCBOR(b), `wellFormed but unreadable: ${hex(b)}`);
  }
  assert.ok(Date.now() - t0 < 30_000);
});
