// The mixed workload: what each simulated client does, and the bookkeeping the end-of-run checks need
// (every 201 turnvend gave, every delete attempted, every create still unresolved).
import { randomUUID } from "node:crypto";
import { ADMIN, KEYS_PATH, OLD_MARKER, endUserJwt } from "./client.mjs";

/** Relative weights of the operations a worker picks from. */
export const MIX = { list: 14, get: 18, create: 6, update: 6, delete: 3, vend: 43, revoke: 10 };
/** Share of reads sent with `Cache-Control: no-cache`. */
const NO_CACHE_SHARE = 0.1;
/** Distinct end users whose JWTs vend. */
const SUBJECTS = 2_000;
/** Attempts a client makes at one create (same Idempotency-Key) or delete before leaving it to the final pass. */
const WRITE_ATTEMPTS = 6;
/** Never delete below this many live keys, so reads and updates always have targets. */
const MIN_LIVE_KEYS = 4;
/** Cap on the revoke pool, so memory stays flat on long runs. */
const USERNAME_POOL_MAX = 5_000;

/** Non-5xx statuses each operation may answer; anything else is a violation. */
export const EXPECTED = {
  list: [200],
  "list(no-cache)": [200],
  get: [200, 404], // the key may have been deleted by another worker
  "get(no-cache)": [200, 404],
  create: [201, 409], // 409: the same Idempotency-Key is still in flight
  update: [200, 404],
  delete: [200, 404], // 404: an earlier attempt whose answer was a 5xx did delete it
  vend: [200],
  revoke: [200],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pickOne = (xs) => xs[Math.floor(Math.random() * xs.length)];

/** Wait before retrying a write: the answer's Retry-After (capped: the breaker opens for ~1 s here), else a short backoff. */
function backoffMs(r, attempt) {
  const ra = Number(r.headers.get("retry-after"));
  const base = Number.isFinite(ra) && ra > 0 ? Math.min(ra, 3) * 1000 : 200 * attempt;
  return base + Math.random() * 200;
}

export class Workload {
  constructor(tv) {
    this.tv = tv;
    /** uid -> { idem } for keys turnvend answered 201 for. */
    this.created = new Map();
    /** idem -> { name, uid?, resolved } for every create attempted. */
    this.creates = new Map();
    /** uids a delete was sent for (the outcome may be unknown), and those a 200/404 confirmed. */
    this.deleteAttempted = new Set();
    this.deleteConfirmed = new Set();
    /** uids some update may have renamed (any answer: a 5xx update may still have reached upstream). */
    this.updated = new Set();
    /** Keys reads, updates and deletes pick from; the protected ones (the active key) are never deleted. */
    this.live = [];
    this.protected = new Set();
    this.usernames = [];
    this.counters = { replayed: 0, xcache: {}, vendedCredentials: 0, revoked: 0 };
    this.seq = 0;
  }

  pickOp() {
    const total = Object.values(MIX).reduce((a, b) => a + b, 0);
    let x = Math.random() * total;
    for (const [op, w] of Object.entries(MIX)) {
      x -= w;
      if (x < 0) return op;
    }
    return "list";
  }

  async run(op) {
    return this[op]();
  }

  noteCache(r) {
    const x = r.headers.get("x-cache");
    if (x) this.counters.xcache[x] = (this.counters.xcache[x] ?? 0) + 1;
  }

  async list() {
    const nc = Math.random() < NO_CACHE_SHARE;
    const r = await this.tv.call(nc ? "list(no-cache)" : "list", "GET", KEYS_PATH, {
      headers: { ...ADMIN, ...(nc ? { "cache-control": "no-cache" } : {}) },
    });
    this.noteCache(r);
    if (r.status === 200) this.checkNames(r, r.body?.result);
  }

  async get() {
    // Mostly live keys, sometimes one that was deleted (a 404 is then the right answer).
    const pool = Math.random() < 0.9 || this.deleteAttempted.size === 0 ? this.live : [...this.deleteAttempted];
    if (pool.length === 0) return this.list();
    const nc = Math.random() < NO_CACHE_SHARE;
    const r = await this.tv.call(nc ? "get(no-cache)" : "get", "GET", `${KEYS_PATH}/${pickOne(pool)}`, {
      headers: { ...ADMIN, ...(nc ? { "cache-control": "no-cache" } : {}) },
    });
    this.noteCache(r);
    if (r.status === 200) this.checkNames(r, [r.body?.result]);
  }

  /** Names are exactly what was sent: none carries the marker earlier versions added. */
  checkNames(r, keys) {
    if (!Array.isArray(keys))
      return this.tv.violations.push(`${r.status} read answered without a result array: ${r.text.slice(0, 200)}`);
    for (const k of keys) {
      if (typeof k?.uid !== "string")
        return this.tv.violations.push(`read answered a key without uid: ${r.text.slice(0, 200)}`);
      if (OLD_MARKER.test(k.name ?? ""))
        this.tv.violations.push(`read shows a marker turnvend no longer adds, in name ${JSON.stringify(k.name)}`);
    }
  }

  /** A create the way a careful client does it: one Idempotency-Key, retried on 5xx, 409 and no answer. */
  async create(idem = randomUUID(), name = `load-${++this.seq}`, attempts = WRITE_ATTEMPTS) {
    const rec = this.creates.get(idem) ?? { name, resolved: false };
    this.creates.set(idem, rec);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const r = await this.tv.call("create", "POST", KEYS_PATH, {
        body: { name: rec.name },
        headers: { ...ADMIN, "idempotency-key": idem },
      });
      if (r.status === 201) {
        const uid = r.body?.result?.uid;
        if (typeof uid !== "string") {
          this.tv.violations.push(`create 201 without result.uid: ${r.text.slice(0, 200)}`);
          return;
        }
        if (r.headers.get("idempotent-replayed") === "true") this.counters.replayed += 1;
        if (rec.uid && rec.uid !== uid)
          this.tv.violations.push(`Idempotency-Key ${idem} answered 201 with two keys: ${rec.uid} and ${uid}`);
        rec.uid = uid;
        rec.resolved = true;
        if (!this.created.has(uid)) {
          this.created.set(uid, { idem });
          this.live.push(uid);
        }
        return;
      }
      if (r.status !== "error" && r.status < 500 && r.status !== 409) {
        rec.resolved = true; // a 4xx other than 409 is final (and already judged)
        return;
      }
      await sleep(backoffMs(r, attempt));
    }
  }

  async update() {
    if (this.live.length === 0) return this.list();
    const uid = pickOne(this.live);
    this.updated.add(uid);
    const r = await this.tv.call("update", "PUT", `${KEYS_PATH}/${uid}`, {
      body: { name: `load-upd-${++this.seq}` },
      headers: ADMIN,
    });
    if (r.status === 200 && typeof r.body?.result?.uid !== "string")
      this.tv.violations.push(`update 200 without result.uid: ${r.text.slice(0, 200)}`);
  }

  async delete() {
    const candidates = this.live.filter((uid) => !this.protected.has(uid));
    if (this.live.length <= MIN_LIVE_KEYS || candidates.length === 0) return this.create();
    const uid = pickOne(candidates);
    this.live.splice(this.live.indexOf(uid), 1);
    this.deleteAttempted.add(uid);
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      const r = await this.tv.call("delete", "DELETE", `${KEYS_PATH}/${uid}`, { headers: ADMIN });
      if (r.status === 200 || r.status === 404) {
        this.deleteConfirmed.add(uid);
        return;
      }
      if (r.status !== "error" && r.status < 500) return;
      await sleep(backoffMs(r, attempt));
    }
  }

  async vend() {
    const subject = `load-user-${Math.floor(Math.random() * SUBJECTS)}`;
    const r = await this.tv.call("vend", "POST", "/v1/ice-servers", {
      body: {},
      headers: { authorization: `Bearer ${await endUserJwt(subject)}` },
    });
    if (r.status !== 200) return;
    const servers = r.body?.iceServers;
    const names = Array.isArray(servers)
      ? [...new Set(servers.map((s) => s?.username).filter((u) => typeof u === "string"))]
      : [];
    if (names.length === 0) return this.tv.violations.push(`vend 200 without a TURN username: ${r.text.slice(0, 200)}`);
    this.counters.vendedCredentials += names.length;
    for (const u of names) {
      if (this.usernames.length >= USERNAME_POOL_MAX)
        this.usernames.splice(Math.floor(Math.random() * this.usernames.length), 1);
      this.usernames.push(u);
    }
  }

  async revoke() {
    if (this.usernames.length === 0) return this.vend();
    const username = this.usernames.splice(Math.floor(Math.random() * this.usernames.length), 1)[0];
    const r = await this.tv.call("revoke", "POST", "/v1/credentials/revoke", { body: { username }, headers: ADMIN });
    if (r.status === 200) this.counters.revoked += r.body?.result?.revoked ?? 0;
  }
}
