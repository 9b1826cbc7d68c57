import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import ICE_SERVERS_JS from "../public/ice-servers.js?raw";
import { fromAssets } from "./support/api";
import { emulator } from "./support/emulator";
import { activeVendingKey, freshSubject, userJwt } from "./support/vend";

interface Helper {
  getIceServers(o: { url: string; token: string; ttl?: number; fetch?: typeof fetchSelf }): Promise<{
    iceServers: { urls: string[]; username?: string }[];
    ttl: number;
    expiresAt: string;
    provider: string;
    degraded: boolean;
  }>;
  keepFresh(
    pc: unknown,
    o: Record<string, unknown>,
  ): { ready: Promise<unknown>; refresh(): Promise<unknown>; stop(): void; current: unknown };
  TurnvendError: new (...args: unknown[]) => Error;
}

/**
 * The helper's own text, run as a function body (the workerd test runtime provides `new Function`; the
 * Worker itself has no eval): its `export` keywords are dropped and its exports returned. Everything
 * else runs exactly as served.
 */
function loadHelper(source: string): Helper {
  const body = source.replace(/^export /gm, "") + "\nreturn { getIceServers, keepFresh, TurnvendError };";
  return new Function(body)() as Helper;
}

/** The browser's fetch, minus the RequestInit fields workerd does not implement. */
function fetchSelf(input: string, init: RequestInit & { credentials?: string }) {
  const { cache: _c, credentials: _cr, ...rest } = init;
  return SELF.fetch(input, {
    ...rest,
    headers: { ...(rest.headers as Record<string, string>), origin: "https://app.example.com" },
  });
}

/** Just enough RTCPeerConnection for keepFresh: it records every setConfiguration. */
class FakePeerConnection {
  signalingState = "stable";
  connectionState = "connected";
  config: { iceServers: { username?: string }[]; iceTransportPolicy: string } = {
    iceServers: [],
    iceTransportPolicy: "relay",
  };
  applied: { iceServers: { username?: string }[]; iceTransportPolicy: string }[] = [];
  getConfiguration() {
    return { ...this.config };
  }
  setConfiguration(config: FakePeerConnection["config"]) {
    this.config = config;
    this.applied.push(config);
  }
  addEventListener() {}
}

const BASE = "http://turnvend.test";
const usernames = (servers: { username?: string }[]) => servers.map((s) => s.username).filter(Boolean);

describe("GET /ice-servers.js (the browser helper)", () => {
  it("is served as cacheable JavaScript that any origin may import", async () => {
    const res = await fromAssets("/ice-servers.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const text = await res.text();
    expect(text).toBe(ICE_SERVERS_JS);
    expect(text).toMatch(/^export async function getIceServers\(/m);
    expect(text).toMatch(/^export function keepFresh\(/m);
    expect(text).not.toMatch(/^\s*import\s/m); // dependency-free
    expect((await fromAssets("/ice-servers.js", { method: "POST", body: "{}" })).status).toBe(405);
  });

  it("parses and exposes getIceServers, keepFresh and TurnvendError", () => {
    const helper = loadHelper(ICE_SERVERS_JS);
    expect(typeof helper.getIceServers).toBe("function");
    expect(typeof helper.keepFresh).toBe("function");
    expect(new helper.TurnvendError(401, 10010, "x")).toBeInstanceOf(Error);
  });
});

describe("the helper's behaviour, run against the real vend route", () => {
  beforeEach(async () => {
    await emulator.reset();
    await env.TURNVEND_KV.delete("vend:v1:active-key");
    await activeVendingKey();
  });

  it("getIceServers vends with the user's JWT and resolves { iceServers, ttl, expiresAt }", async () => {
    const { getIceServers } = loadHelper(ICE_SERVERS_JS);
    const got = await getIceServers({
      url: `${BASE}/`,
      token: await userJwt(freshSubject()),
      ttl: 120,
      fetch: fetchSelf,
    });
    expect(got.ttl).toBe(120);
    expect(usernames(got.iceServers)).toHaveLength(1);
    expect(Date.parse(got.expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);
  });

  it("getIceServers passes on provider and degraded", async () => {
    const { getIceServers } = loadHelper(ICE_SERVERS_JS);
    const got = await getIceServers({ url: BASE, token: await userJwt(freshSubject()), fetch: fetchSelf });
    expect(got).toMatchObject({ provider: "cloudflare", degraded: false });
  });

  it("keepFresh replaces a degraded answer after degradedRefreshMs, long before it expires", async () => {
    const { keepFresh } = loadHelper(ICE_SERVERS_JS);
    const answers: { provider: string; degraded: boolean }[] = [];
    let calls = 0;
    // The first answer is degraded (as when Cloudflare's API fails over to the self-hosted provider), then turnvend's own.
    const degradedFirst = async (input: string, init: RequestInit & { credentials?: string }) => {
      calls += 1;
      const res = await fetchSelf(input, init);
      if (calls > 1) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return Response.json({ ...body, provider: "self-hosted", degraded: true });
    };
    const pc = new FakePeerConnection();
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const fresh = keepFresh(pc, {
        url: BASE,
        getToken: () => userJwt(freshSubject()),
        ttl: 3600,
        degradedRefreshMs: 1_000,
        fetch: degradedFirst,
        onRefresh: (r: { provider: string; degraded: boolean }) => {
          answers.push({ provider: r.provider, degraded: r.degraded });
          if (answers.length === 2) {
            fresh.stop();
            resolve();
          }
        },
      });
    });
    // A one-hour set, replaced after about a second because it was degraded.
    expect(answers).toEqual([
      { provider: "self-hosted", degraded: true },
      { provider: "cloudflare", degraded: false },
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("keepFresh backs off while answers stay degraded (doubling from degradedRefreshMs) and starts again after a good one", async () => {
    const { keepFresh } = loadHelper(ICE_SERVERS_JS);
    // Answers 1-3 degraded, 4 not, 5-6 degraded again. Each refresh is a new set against the user's daily quota.
    const plan = [true, true, true, false, true, true];
    const times: number[] = [];
    const answer = async () => {
      const degraded = plan[times.length] ?? false;
      times.push(Date.now());
      return Response.json({
        iceServers: [{ urls: ["turn:turn.example.net:3478"], username: `u${times.length}`, credential: "c" }],
        ttl: 3600,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        provider: degraded ? "self-hosted" : "cloudflare",
        degraded,
      });
    };
    const pc = new FakePeerConnection();
    // The helper's own floor between refreshes is 1 s.
    const step = 1_000;
    let fresh: ReturnType<Helper["keepFresh"]> | undefined;
    await new Promise<void>((resolve) => {
      fresh = keepFresh(pc, {
        url: BASE,
        getToken: () => "token",
        degradedRefreshMs: step,
        fetch: answer,
        onRefresh: () => {
          // The good answer schedules its refresh an hour out: the app refreshes by hand, and gets a degraded one.
          if (times.length === 4) void fresh?.refresh();
          if (times.length === 6) resolve();
        },
      });
    });
    fresh?.stop();
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 1 and 2 s between the degraded ones, 4 s to the good one; then the reset: 1 s again after a degraded one.
    for (const [i, want] of [step, 2 * step, 4 * step].entries()) {
      expect(gaps[i]).toBeGreaterThanOrEqual(want - 20);
      expect(gaps[i]).toBeLessThan(want + 150);
    }
    expect(gaps[4]).toBeGreaterThanOrEqual(step - 20);
    expect(gaps[4]).toBeLessThan(step + 150);
  }, 15_000);

  it("keepFresh times refreshes by the answer's ttl, so a device clock hours off neither loops on refreshes nor lets credentials expire", async () => {
    const { keepFresh } = loadHelper(ICE_SERVERS_JS);
    const HOUR = 3_600_000;
    /** Counts refreshes over 2.5 s, with turnvend's clock `skewMs` away from this device's. */
    const refreshesIn2500Ms = async (ttl: number, skewMs: number, refreshBeforeMs: number) => {
      let fetches = 0;
      const answer = async () => {
        fetches += 1;
        return Response.json({
          iceServers: [{ urls: ["turn:turn.example.net:3478"], username: `u${fetches}`, credential: "c" }],
          ttl,
          expiresAt: new Date(Date.now() + skewMs + ttl * 1000).toISOString(),
          provider: "cloudflare",
        });
      };
      const fresh = keepFresh(new FakePeerConnection(), {
        url: BASE,
        getToken: () => "token",
        refreshBeforeMs,
        fetch: answer,
      });
      await fresh.ready;
      await new Promise((r) => setTimeout(r, 2_500));
      fresh.stop();
      return fetches;
    };
    // This device 2 hours ahead: a one-hour set looks expired on arrival; it must not be replaced every second
    // (each refresh is a new set against the user's daily quota).
    expect(await refreshesIn2500Ms(3600, -2 * HOUR, 5 * 60_000)).toBe(1);
    // This device 2 hours behind: a set with 2 s to live is due after a second (half its life), not hours later.
    expect(await refreshesIn2500Ms(2, 2 * HOUR, 5 * 60_000)).toBeGreaterThanOrEqual(2);
  }, 15_000);

  it("keepFresh never refreshes more often than every half a set's lifetime, whatever refreshBeforeMs says", async () => {
    const { keepFresh } = loadHelper(ICE_SERVERS_JS);
    let fetches = 0;
    // Five-minute credentials (a valid ttl) with the default margin of five minutes.
    const answer = async () => {
      fetches += 1;
      return Response.json({
        iceServers: [{ urls: ["turn:turn.example.net:3478"], username: `u${fetches}`, credential: "c" }],
        ttl: 300,
        expiresAt: new Date(Date.now() + 300_000).toISOString(),
        provider: "cloudflare",
      });
    };
    const fresh = keepFresh(new FakePeerConnection(), { url: BASE, getToken: () => "token", ttl: 300, fetch: answer });
    await fresh.ready;
    await new Promise((r) => setTimeout(r, 2_500));
    fresh.stop();
    // Each refresh is a new set against the user's daily quota: once a second would spend it in minutes.
    expect(fetches).toBe(1);
  }, 15_000);

  it("getIceServers rejects with turnvend's status and code", async () => {
    const { getIceServers, TurnvendError } = loadHelper(ICE_SERVERS_JS);
    const err = await getIceServers({ url: BASE, token: "not-a-jwt", fetch: fetchSelf }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TurnvendError);
    expect(err).toMatchObject({ status: 401, code: 10010 });
    await expect(
      getIceServers({ url: BASE, token: await userJwt(freshSubject()), ttl: 10, fetch: fetchSelf }),
    ).rejects.toMatchObject({ status: 400, code: 10005 });
  });

  it("keepFresh applies new credentials with setConfiguration, keeping the rest of the configuration, before expiresAt", async () => {
    const { getIceServers, keepFresh } = loadHelper(ICE_SERVERS_JS);
    const subject = freshSubject();
    let tokens = 0;
    const getToken = async () => {
      tokens += 1;
      return userJwt(subject);
    };
    const bodies: unknown[] = [];
    const recording = (input: string, init: RequestInit & { credentials?: string }) => {
      bodies.push(JSON.parse(String(init.body)));
      return fetchSelf(input, init);
    };
    const got = await getIceServers({ url: BASE, token: await getToken(), ttl: 60, fetch: recording });
    // Handed over with 2 s left, so the refresh comes within the test: it is due half a lifetime early at most.
    const initial = { ...got, ttl: 2, expiresAt: new Date(Date.now() + 2_000).toISOString() };
    const pc = new FakePeerConnection();
    pc.config = { iceServers: initial.iceServers, iceTransportPolicy: "relay" };
    const refreshed = new Promise<unknown>((resolve) => {
      // Refreshed 59.8 s early, capped at half the 2 s left: after about a second.
      const fresh = keepFresh(pc, {
        url: BASE,
        getToken,
        ttl: 60,
        refreshBeforeMs: 59_800,
        initial,
        fetch: recording,
        onRefresh: () => {
          fresh.stop();
          resolve(fresh.current);
        },
      });
    });
    const current = (await refreshed) as { iceServers: { username?: string }[] };
    expect(tokens).toBe(2);
    expect(pc.applied).toHaveLength(1);
    expect(pc.applied[0].iceTransportPolicy).toBe("relay");
    expect(pc.applied[0].iceServers).toEqual(current.iceServers);
    expect(usernames(pc.applied[0].iceServers)).not.toEqual(usernames(initial.iceServers));
    // The refresh asks past any reuse window; the first request does not.
    expect(bodies).toEqual([{ ttl: 60 }, { ttl: 60, fresh: true }]);
  });

  it("keepFresh fetches at once without initial credentials, reports failures to onError and stops when the connection closes", async () => {
    const { keepFresh } = loadHelper(ICE_SERVERS_JS);
    const pc = new FakePeerConnection();
    const errors: unknown[] = [];
    const fresh = keepFresh(pc, {
      url: BASE,
      getToken: () => userJwt(freshSubject()),
      fetch: fetchSelf,
      onError: (e: unknown) => errors.push(e),
    });
    await fresh.ready;
    expect(pc.applied).toHaveLength(1);

    const failing = keepFresh(new FakePeerConnection(), {
      url: BASE,
      getToken: () => "bad-token",
      fetch: fetchSelf,
      onError: (e: unknown) => errors.push(e),
    });
    await expect(failing.ready).rejects.toMatchObject({ status: 401 });
    failing.stop();
    expect(errors).toHaveLength(1);

    pc.connectionState = "closed";
    await fresh.refresh();
    expect(pc.applied).toHaveLength(1); // closed: nothing applied any more
    fresh.stop();
  });
});
