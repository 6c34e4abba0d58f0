// Subscriptions: the change feed delivered to callbacks (subscribe) and to
// async iterators (watch).
//
// A subscription is a cursor over the replay buffer, like the Go host's:
// it holds no events itself, so writers never wait for it. After every
// mutation (notify) one microtask, the pump, reads each callback
// subscription's events through the feed and delivers them; watchers read
// on demand and are only woken.

import { ActorStoreError, invalidArgument, reportError } from "./errors.js";

const PAGE_EVENTS = 1000; // events read per changes call

/**
 * The subscriptions of one store. feed is what they read through:
 * { changes(since, actorType, keyPrefix, limit): { events, next },
 * stats(): the store's stats, sequenceAtTime(t): the first sequence at or
 * after t (ms or a Date), fail(e): the error to report for anything
 * thrown, closed(): whether the store is closed }.
 */
export class Subscriptions {
  #feed;
  #subs = new Set();
  #pumping = false;
  #epoch = 0; // counts restores: subscriptions end at a new one

  constructor(feed) {
    this.#feed = feed;
  }

  /** Active subscriptions and watchers. */
  get size() {
    return this.#subs.size;
  }

  /**
   * Delivers matching events to onEvent asynchronously, in order, exactly
   * once; a subscriber that falls behind the replay buffer gets COMPACTED
   * through onError and ends. Returns the function that ends it. Throws
   * what reading its start position throws, as it is.
   */
  subscribe(options, onEvent, onError) {
    const sub = this.#subscription(options);
    sub.onEvent = onEvent;
    sub.onError = onError ?? ((err) => console.error("actorstore subscription ended:", err));
    this.#subs.add(sub);
    this.#pumping = true;
    queueMicrotask(() => this.#pump());
    return () => {
      this.#subs.delete(sub);
    };
  }

  /** The same events as an async iterator; `break` (return) ends it. */
  watch(options) {
    const sub = this.#subscription(options);
    this.#subs.add(sub);
    const feed = this.#feed;
    let buffered = [];
    let done = false;
    const end = () => {
      done = true;
      buffered = [];
      this.#subs.delete(sub);
      wake(sub);
    };
    const read = () => this.#read(sub);
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        for (;;) {
          if (buffered.length) return { value: buffered.shift(), done: false };
          if (done || feed.closed()) {
            end();
            return { value: undefined, done: true };
          }
          let page;
          try {
            page = read();
          } catch (e) {
            end();
            throw feed.fail(e);
          }
          if (page.next !== sub.cursor) {
            sub.cursor = page.next;
            buffered = page.events;
            continue;
          }
          await new Promise((resolve) => {
            sub.wake = resolve;
          });
        }
      },
      async return(value) {
        end();
        return { value, done: true };
      },
      async throw(err) {
        end();
        throw err;
      },
    };
  }

  /** After a mutation: schedules the pump, once. */
  notify() {
    if (this.#subs.size !== 0 && !this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => this.#pump());
    }
  }

  /** After a restore: every subscription ends with RESTORED. */
  restored() {
    this.#epoch++;
    this.notify();
  }

  /** After close: ends every subscription (watchers return done). */
  close() {
    const subs = [...this.#subs];
    this.#subs.clear();
    for (const sub of subs) wake(sub);
  }

  #subscription(options) {
    if (options === null || typeof options !== "object") throw invalidArgument("subscribe takes an options object");
    const { from = "beginning", actorType = "", keyPrefix = "" } = options;
    if (typeof actorType !== "string" || typeof keyPrefix !== "string") {
      throw invalidArgument("actorType and keyPrefix must be strings");
    }
    let cursor;
    if (from === "beginning") {
      cursor = this.#feed.stats().oldestSequence - 1;
    } else if (from === "now") {
      cursor = this.#feed.stats().currentSequence;
    } else if (from && typeof from === "object" && "sequence" in from) {
      if (!Number.isSafeInteger(from.sequence) || from.sequence < 0) {
        throw invalidArgument(`from.sequence must be a non-negative integer, got ${from.sequence}`);
      }
      cursor = Math.max(from.sequence, 1) - 1;
    } else if (from && typeof from === "object" && "time" in from) {
      cursor = this.#feed.sequenceAtTime(from.time) - 1;
    } else {
      throw invalidArgument(`from must be "beginning", "now", { sequence } or { time }, got ${JSON.stringify(from)}`);
    }
    return { cursor, actorType, keyPrefix, epoch: this.#epoch, onEvent: null, onError: null, wake: null };
  }

  // #read reads the page of events after sub's cursor; RESTORED if a
  // restore replaced the history it was reading.
  #read(sub) {
    if (sub.epoch !== this.#epoch) {
      throw new ActorStoreError("RESTORED", "the store was restored from a snapshot: subscribe again");
    }
    return this.#feed.changes(sub.cursor, sub.actorType, sub.keyPrefix, PAGE_EVENTS);
  }

  #pump() {
    this.#pumping = false;
    for (const sub of this.#subs) {
      if (sub.onEvent) this.#deliver(sub);
      else wake(sub);
    }
  }

  #deliver(sub) {
    const feed = this.#feed;
    while (!feed.closed() && this.#subs.has(sub)) {
      let page;
      try {
        page = this.#read(sub);
      } catch (e) {
        this.#subs.delete(sub);
        const err = feed.fail(e);
        try {
          sub.onError(err);
        } catch (e2) {
          reportError(e2);
        }
        return;
      }
      if (page.next === sub.cursor) return;
      sub.cursor = page.next;
      for (const ev of page.events) {
        if (!this.#subs.has(sub)) return;
        try {
          sub.onEvent(ev);
        } catch (e) {
          reportError(e); // a throwing callback does not stop the feed
        }
      }
    }
  }
}

function wake(sub) {
  const w = sub.wake;
  if (w) {
    sub.wake = null;
    w();
  }
}
