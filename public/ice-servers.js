// turnvend browser helper: ICE servers for RTCPeerConnection, refreshed before they expire.
// An ES module with no dependencies:
//   import { getIceServers, keepFresh } from "https://turnvend.example.com/ice-servers.js";
//   const first = await getIceServers({ url: "https://turnvend.example.com", token: jwt });
//   const pc = new RTCPeerConnection({ iceServers: first.iceServers });
//   const fresh = keepFresh(pc, { url: "https://turnvend.example.com", getToken: () => jwt, initial: first });
// Credentials last at most 48 hours (Cloudflare's cap); keepFresh swaps in new ones before expiresAt with
// pc.setConfiguration(), so long sessions never hold expired ones. A degraded answer (degraded: true: the
// preferred TURN provider failed, so the servers come from the fallback, or are STUN only) is refreshed sooner,
// after 60 s, then 120 s, 240 s, … while answers stay degraded (never later than the credentials' own refresh),
// so a call gets the preferred provider's TURN back soon after it recovers without spending the user's daily
// quota of credential sets on a long outage.

const VEND_PATH = "/v1/ice-servers";
/** Default margin before expiresAt at which keepFresh fetches new credentials (at most half their lifetime). */
const DEFAULT_REFRESH_BEFORE_MS = 5 * 60 * 1000;
/**
 * Default wait before a degraded answer is replaced: turnvend's breaker probes Cloudflare again after 30 s, so
 * a minute later the next vend is likely to get it back. Each further degraded answer in a row doubles the wait:
 * every refresh is a new set counted against the user's daily quota (CREDENTIAL_SETS_PER_DAY, 100 by default),
 * so a fixed minute would spend it all in a 100-minute call during an outage; doubling spends about 6 an hour.
 */
const DEFAULT_DEGRADED_REFRESH_MS = 60 * 1000;
/** Shortest wait between two refreshes: a set that arrives nearly expired is not replaced in a tight loop. */
const MIN_REFRESH_INTERVAL_MS = 1000;
/** Retry backoff after a failed refresh: doubles from the first to the last, or Retry-After when longer. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60 * 1000;

/** A refusal from turnvend: HTTP status, turnvend's error code (see its README) and message. */
export class TurnvendError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.name = "TurnvendError";
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function endpoint(url) {
  if (typeof url !== "string" || url === "")
    throw new TypeError("url must be turnvend's base URL, e.g. https://turnvend.example.com");
  return url.replace(/\/+$/, "") + VEND_PATH;
}

/**
 * POST /v1/ice-servers with the user's JWT. Resolves { iceServers, ttl, expiresAt, provider, degraded }
 * (expiresAt is an RFC 3339 time; provider is "cloudflare", "self-hosted" or "both"; degraded is true when the
 * preferred provider failed); rejects with a TurnvendError when turnvend refuses.
 * Options: url (turnvend's base URL), token (the JWT), and optionally ttl (seconds), signal, fetch, and
 * fresh (true: a new set even within turnvend's reuse window, as a refresh before expiry needs).
 */
export async function getIceServers(options) {
  const o = options || {};
  if (typeof o.token !== "string" || o.token === "") throw new TypeError("token must be the user's JWT");
  const doFetch = o.fetch || ((input, init) => globalThis.fetch(input, init));
  const res = await doFetch(endpoint(o.url), {
    method: "POST",
    headers: { authorization: "Bearer " + o.token, "content-type": "application/json" },
    body: JSON.stringify(Object.assign({}, o.ttl === undefined ? {} : { ttl: o.ttl }, o.fresh ? { fresh: true } : {})),
    cache: "no-store",
    credentials: "omit",
    signal: o.signal,
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!res.ok) {
    const first = body && Array.isArray(body.errors) ? body.errors[0] : undefined;
    const retryAfter = Number(res.headers.get("retry-after"));
    throw new TurnvendError(
      res.status,
      first && typeof first.code === "number" ? first.code : 0,
      first && typeof first.message === "string" ? first.message : "turnvend answered HTTP " + res.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  if (
    !body ||
    !Array.isArray(body.iceServers) ||
    typeof body.expiresAt !== "string" ||
    Number.isNaN(Date.parse(body.expiresAt))
  ) {
    throw new TurnvendError(res.status, 0, "turnvend's answer holds no iceServers and expiresAt");
  }
  return {
    iceServers: body.iceServers,
    ttl: body.ttl,
    expiresAt: body.expiresAt,
    provider: body.provider,
    degraded: body.degraded === true,
  };
}

/**
 * Keeps pc's ICE servers fresh: fetches credentials (now, or after options.initial expires soon) and
 * applies them with pc.setConfiguration({ ...pc.getConfiguration(), iceServers }), refreshBeforeMs
 * before each expiresAt. New candidates (and an ICE restart) use the fresh credentials; pass
 * restartIce: true to restart ICE after each refresh so live relays move to them (the app then renegotiates
 * on "negotiationneeded"). Failures go to onError and are retried with backoff (honouring Retry-After).
 * Stops by itself when pc closes. A degraded answer is replaced after degradedRefreshMs (default 60 s) at
 * the latest, each further degraded answer in a row after twice the previous wait (capped by the credentials'
 * own refresh time); a non-degraded answer starts again from degradedRefreshMs. Options: url, getToken (returns the JWT, or a promise of it), refreshBeforeMs (default 5 minutes, at most half the set's lifetime),
 * degradedRefreshMs, ttl, initial, restartIce, onRefresh, onError, fetch.
 * Returns { ready, refresh(), stop(), current }: ready settles with the first credentials applied.
 */
export function keepFresh(pc, options) {
  const o = options || {};
  if (!pc || typeof pc.setConfiguration !== "function" || typeof pc.getConfiguration !== "function") {
    throw new TypeError("keepFresh needs an RTCPeerConnection");
  }
  if (typeof o.getToken !== "function") throw new TypeError("getToken must be a function that returns the user's JWT");
  endpoint(o.url);
  const refreshBeforeMs = o.refreshBeforeMs === undefined ? DEFAULT_REFRESH_BEFORE_MS : o.refreshBeforeMs;
  if (typeof refreshBeforeMs !== "number" || !(refreshBeforeMs >= 0))
    throw new TypeError("refreshBeforeMs must be a number of milliseconds");
  const degradedRefreshMs = o.degradedRefreshMs === undefined ? DEFAULT_DEGRADED_REFRESH_MS : o.degradedRefreshMs;
  if (typeof degradedRefreshMs !== "number" || !(degradedRefreshMs >= 0))
    throw new TypeError("degradedRefreshMs must be a number of milliseconds");

  let timer;
  let stopped = false;
  let failures = 0;
  /** Degraded answers in a row: the wait before replacing the next one doubles with each. */
  let degradedInARow = 0;
  const state = { current: o.initial };
  const isClosed = () => stopped || pc.signalingState === "closed" || pc.connectionState === "closed";

  function stop() {
    stopped = true;
    clearTimeout(timer);
  }

  function schedule(delayMs) {
    clearTimeout(timer);
    if (!isClosed()) timer = setTimeout(run, delayMs);
  }

  // Called once for each answer applied: it also counts the degraded answers in a row. An answer fetched here is
  // timed by its ttl (seconds left, by turnvend's clock) from its arrival, not by expiresAt against this device's
  // clock, which may be hours off: ahead, every set would look expired and be replaced each second (each a new
  // set against the user's daily quota); behind, sets would expire before their refresh. `initial` has only
  // expiresAt: when it arrived is unknown. The margin is at most half the set's lifetime: a margin as long as the
  // ttl (the default 5 minutes with ttl: 300) would replace every set at once, each second.
  function untilRefresh(result, receivedAt) {
    const hasTtl = typeof result.ttl === "number" && Number.isFinite(result.ttl);
    const left =
      receivedAt !== undefined && hasTtl
        ? receivedAt + result.ttl * 1000 - Date.now()
        : Date.parse(result.expiresAt) - Date.now();
    const margin = hasTtl ? Math.min(refreshBeforeMs, (result.ttl * 1000) / 2) : refreshBeforeMs;
    degradedInARow = result.degraded ? degradedInARow + 1 : 0;
    const backoff = degradedRefreshMs * 2 ** Math.min(degradedInARow - 1, 30);
    const due = result.degraded ? Math.min(left - margin, backoff) : left - margin;
    return Math.max(MIN_REFRESH_INTERVAL_MS, due);
  }

  async function refresh() {
    const token = await o.getToken();
    // A refresh must bring a new set: within a reuse window turnvend would hand back the current one.
    const result = await getIceServers({
      url: o.url,
      token,
      ttl: o.ttl,
      fetch: o.fetch,
      fresh: state.current !== undefined,
    });
    const receivedAt = Date.now();
    if (isClosed()) return result;
    pc.setConfiguration(Object.assign({}, pc.getConfiguration(), { iceServers: result.iceServers }));
    if (o.restartIce && typeof pc.restartIce === "function") pc.restartIce();
    state.current = result;
    failures = 0;
    schedule(untilRefresh(result, receivedAt));
    if (o.onRefresh) o.onRefresh(result);
    return result;
  }

  function failed(err) {
    failures += 1;
    if (o.onError) o.onError(err);
    const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
    const retryAfter = err?.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
    schedule(Math.max(backoff, retryAfter));
  }

  function run() {
    refresh().catch(failed);
  }

  if (typeof pc.addEventListener === "function") {
    const onClose = () => {
      if (isClosed()) stop();
    };
    pc.addEventListener("signalingstatechange", onClose);
    pc.addEventListener("connectionstatechange", onClose);
  }

  let ready;
  if (o.initial) {
    schedule(untilRefresh(o.initial));
    ready = Promise.resolve(o.initial);
  } else {
    ready = refresh();
    ready.catch(failed);
  }

  return {
    ready,
    refresh: () => {
      const p = refresh();
      p.catch(failed);
      return p;
    },
    stop,
    get current() {
      return state.current;
    },
  };
}
