// A remote JSON Web Key Set, shared by the two JWT verifiers (end users, Cloudflare Access). One set per
// URL per isolate: the fetched set is trusted for JWKS_CACHE_MAX_AGE_MS, each key is imported once (and
// kept across refetches while the provider keeps publishing it), and the set is fetched at most once per
// JWKS_COOLDOWN_MS, failed attempts included, so neither forged kids nor an outage hammer the identity
// provider. While the provider fails, a set fetched within JWKS_MAX_STALE_MS keeps verifying.
import { JWKS_CACHE_MAX_AGE_MS, JWKS_COOLDOWN_MS, JWKS_MAX_STALE_MS, JWKS_TIMEOUT_MS } from "../constants";
import { log } from "../observability/log";
import { JwtRejected, type JwtAlgorithm } from "./jwt";

/** The key set cannot be fetched or read: the provider's problem (503), never grounds to accept. */
export class KeySetUnavailable extends Error {}

/** How a key for each asymmetric algorithm looks in a JWKS, which members it is imported from, and as what. */
const KEY_TYPES = {
  RS256: { kty: "RSA", crv: undefined, members: ["n", "e"], params: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } },
  ES256: { kty: "EC", crv: "P-256", members: ["crv", "x", "y"], params: { name: "ECDSA", namedCurve: "P-256" } },
} as const;
type KeySetAlgorithm = keyof typeof KEY_TYPES;

interface Member {
  jwk: Record<string, unknown>;
  /** The member as published, to recognise it in the next fetch and keep its imported key. */
  canonical: string;
  /** Imported keys by algorithm, each imported on first use. */
  keys: Map<KeySetAlgorithm, Promise<CryptoKey>>;
}

/** Why the set, or the member a token names, cannot be used: the provider's problem (503). */
class Unavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

class RemoteKeySet {
  private members: Member[] | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  /** The last fetch started, whether it succeeded or not. */
  private attemptedAt = Number.NEGATIVE_INFINITY;
  /** Fetches started and the newest applied: a slow, older fetch never overwrites a newer set. */
  private started = 0;
  private applied = 0;

  constructor(
    private readonly url: string,
    private readonly event: string,
  ) {}

  /** The key for a token's `alg` and `kid`: JwtRejected when the set holds none (or several) that fit. */
  async keyFor(alg: JwtAlgorithm, kid: unknown): Promise<CryptoKey> {
    if (!Object.hasOwn(KEY_TYPES, alg)) throw new JwtRejected("alg_not_allowed");
    const keyAlg = alg as KeySetAlgorithm;
    if (!this.members || !this.fetchedWithin(JWKS_CACHE_MAX_AGE_MS)) {
      // Past its age the set is refetched; if that fails, a set young enough keeps serving.
      if (!(await this.tryReload()) && !(this.members && this.fetchedWithin(JWKS_MAX_STALE_MS)))
        throw new KeySetUnavailable();
    }
    let found = this.usable(keyAlg, kid);
    if (found.length === 0 && !this.attemptedWithin(JWKS_COOLDOWN_MS)) {
      // Perhaps a rotated key. If the set cannot be fetched, the token may well be good: 503, not 401.
      if (!(await this.tryReload())) throw new KeySetUnavailable();
      found = this.usable(keyAlg, kid);
    }
    if (found.length === 0) throw new JwtRejected("unknown_key");
    if (found.length > 1) throw new JwtRejected("ambiguous_key");
    try {
      return await this.imported(found[0]!, keyAlg);
    } catch (err) {
      log(this.event, { reason: err instanceof Unavailable ? err.reason : "key_import_failed" });
      throw new KeySetUnavailable();
    }
  }

  private fetchedWithin(ms: number): boolean {
    return Date.now() < this.fetchedAt + ms;
  }

  private attemptedWithin(ms: number): boolean {
    return Date.now() < this.attemptedAt + ms;
  }

  /** Fetches the set unless an attempt was made within the cooldown; true when a fresh set came. */
  private async tryReload(): Promise<boolean> {
    if (this.attemptedWithin(JWKS_COOLDOWN_MS)) return false;
    try {
      await this.reload();
      return true;
    } catch (err) {
      if (err instanceof KeySetUnavailable) return false;
      throw err;
    }
  }

  /** Members that may verify a token with this `alg` and `kid` (RFC 7517 `kty`, `crv`, `alg`, `use`, `key_ops`). */
  private usable(alg: KeySetAlgorithm, kid: unknown): Member[] {
    const type = KEY_TYPES[alg];
    return (this.members ?? []).filter(({ jwk }) => {
      const ops = jwk.key_ops;
      return (
        (jwk.ext === undefined || typeof jwk.ext === "boolean") &&
        (ops === undefined ||
          (Array.isArray(ops) &&
            ops.every((op, i) => typeof op === "string" && ops.indexOf(op) === i) &&
            ops.includes("verify"))) &&
        jwk.kty === type.kty &&
        (kid === undefined || (typeof kid === "string" && kid === jwk.kid)) &&
        (jwk.alg === undefined || jwk.alg === alg) &&
        (jwk.use === undefined || jwk.use === "sig") &&
        (type.crv === undefined || jwk.crv === type.crv)
      );
    });
  }

  private imported(member: Member, alg: KeySetAlgorithm): Promise<CryptoKey> {
    let key = member.keys.get(alg);
    if (!key) {
      key = importMember(member.jwk, alg);
      // A failed import is not remembered: the next token tries again.
      key.catch(() => member.keys.delete(alg));
      member.keys.set(alg, key);
    }
    return key;
  }

  /**
   * Fetches the set. Any failure (network, timeout, non-200 including redirects, not JSON, not a JWKS)
   * is logged and thrown as KeySetUnavailable; the set already cached is left as it was.
   */
  private async reload(): Promise<void> {
    // No shared in-flight fetch: on Workers a request cannot await I/O started by another request.
    const sequence = ++this.started;
    this.attemptedAt = Date.now();
    let body: unknown;
    try {
      body = await fetchKeySet(this.url);
    } catch (err) {
      log(this.event, { reason: err instanceof Unavailable ? err.reason : "fetch_failed" });
      throw new KeySetUnavailable();
    }
    if (!isObject(body) || !Array.isArray(body.keys) || !body.keys.every(isObject)) {
      log(this.event, { reason: "malformed_set" });
      throw new KeySetUnavailable();
    }
    if (sequence <= this.applied) return;
    const previous = new Map((this.members ?? []).map((m) => [m.canonical, m]));
    this.members = (body.keys as Record<string, unknown>[]).map((jwk) => {
      const canonical = JSON.stringify(jwk);
      return previous.get(canonical) ?? { jwk, canonical, keys: new Map() };
    });
    this.fetchedAt = Date.now();
    this.applied = sequence;
  }
}

async function fetchKeySet(url: string): Promise<unknown> {
  const signal = AbortSignal.timeout(JWKS_TIMEOUT_MS);
  // Redirects are not followed: the set must come from the configured URL itself.
  let response: Response;
  try {
    response = await fetch(url, {
      method: "GET",
      redirect: "manual",
      signal,
      headers: { accept: "application/json, application/jwk-set+json" },
    });
  } catch (err) {
    throw new Unavailable(err instanceof Error && err.name === "TimeoutError" ? "timeout" : "fetch_failed");
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Unavailable(`http_${response.status}`);
  }
  try {
    return await response.json();
  } catch {
    throw new Unavailable(signal.aborted ? "timeout" : "not_json");
  }
}

/** Imports only the public members, so the key is a verification key whatever else the member carries. */
async function importMember(jwk: Record<string, unknown>, alg: KeySetAlgorithm): Promise<CryptoKey> {
  // A published private key means a broken provider: refuse it rather than quietly use its public half.
  if (jwk.d !== undefined) throw new Unavailable("private_key_in_set");
  const type = KEY_TYPES[alg];
  const data: Record<string, unknown> = { kty: type.kty };
  for (const name of type.members) data[name] = jwk[name];
  return crypto.subtle.importKey("jwk", data as unknown as JsonWebKey, type.params, false, ["verify"]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const remoteSets = new Map<string, RemoteKeySet>();

/** The key set at `url`; `event` names the log line written when the set is unavailable. */
export function remoteKeySet(url: string, event: string): RemoteKeySet {
  let set = remoteSets.get(url);
  if (!set) {
    set = new RemoteKeySet(url, event);
    remoteSets.set(url, set);
  }
  return set;
}
