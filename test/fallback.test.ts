// When Cloudflare's credential API fails: the self-hosted provider (TURN REST shared secret), the vend's
// deadline, the breaker, the merged answer of `both`, `self-hosted` with no upstream call, the STUN-only answer,
// secret rotation, honest revocation and the settings' validation. Each test runs the Worker in this isolate
// with its own settings (fetchWith), so the breaker it drives is this isolate's (src/vend/breaker.ts).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { VEND_BREAKER_FAILURES, VEND_BREAKER_OPEN_MS, VEND_FAILOVER_RESERVE_MS } from "../src/constants";
import { forgetRecentActiveKey } from "../src/storage/active-key";
import { forgetGuardMemory } from "../src/storage/guard-memory";
import { CredentialBreaker, credentialBreaker } from "../src/vend/breaker";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { SECRET_VALUES } from "./support/fixtures";
import { captureConsole } from "./support/logs";
import { resetWorld } from "./support/reset";
import { activeVendingKey, fetchWith, freshSubject, REVOKE_PATH, userJwt, VEND_PATH } from "./support/vend";
import { turnRest } from "./support/hmac";

const FALLBACK_URLS = [
  "stun:turn.example.net:3478",
  "turn:turn.example.net:3478?transport=udp",
  "turns:turn.example.net:443?transport=tcp",
];
const SIGNING_SECRET = "fallback-secret-one-0123456789";
const OLD_SECRET = "fallback-secret-two-9876543210";

interface Answer {
  iceServers: { urls: string[]; username?: string; credential?: string }[];
  ttl: number;
  expiresAt: string;
  provider: "cloudflare" | "self-hosted" | "both";
  degraded?: true;
}

const failover = {
  TURN_PROVIDER_MODE: "failover",
  FALLBACK_TURN_URLS: FALLBACK_URLS.join(","),
  FALLBACK_TURN_SECRET: SIGNING_SECRET,
};

/**
 * POST /v1/ice-servers to the Worker with `settings` laid over the test bindings. `ms` is the time to the
 * answer; the vend's work after it (the username index) is awaited too, but not timed.
 */
async function vendWith(settings: Record<string, unknown>, subject = freshSubject(), body: unknown = {}) {
  const { default: worker } = await import("../src/index");
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await worker.fetch(
    new Request(`http://turnvend.test${VEND_PATH}`, {
      method: "POST",
      headers: { authorization: `Bearer ${await userJwt(subject)}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    { ...env, ...settings } as Env,
    ctx,
  );
  const text = await res.text();
  const ms = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, ms, text, body: JSON.parse(text) as Answer };
}

const selfHostedEntry = (a: Answer) =>
  a.iceServers.find((s) => s.urls.some((u) => u.includes("turn.example.net")) && s.username);
const cloudflareEntry = (a: Answer) =>
  a.iceServers.find((s) => s.urls.some((u) => u.includes("cloudflare.com")) && s.username);
/** An ACCOUNT_STATE namespace whose every call fails, as an unreachable or crashing object does. */
function failingNamespace() {
  const real = env.ACCOUNT_STATE;
  return {
    idFromName: (name: string) => real.idFromName(name),
    get: () => new Proxy({}, { get: () => () => Promise.reject(new Error("injected: account object unreachable")) }),
  };
}

const fail503 = () => emulator.fault({ route: "credentials.generate_ice_servers", status: 503, count: -1 });

beforeEach(async () => {
  await resetWorld();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("failover: Cloudflare first, the self-hosted provider when it fails", () => {
  it("on a 503 from every credential call: 200, provider self-hosted, degraded, a TURN REST credential for the subject's opaque id", async () => {
    await activeVendingKey();
    await fail503();
    const subject = freshSubject("failover-503");
    const { res, body } = await vendWith(failover, subject);
    expect(res.status).toBe(200);
    expect(body.provider).toBe("self-hosted");
    expect(body.degraded).toBe(true);
    expect(body.iceServers).toEqual([
      { urls: [FALLBACK_URLS[0]] },
      { urls: FALLBACK_URLS.slice(1), username: expect.any(String), credential: expect.any(String) },
    ]);
    const turn = selfHostedEntry(body)!;
    const [expiry, id] = turn.username!.split(":");
    // "<unix expiry>:<opaque id>": the expiry is the answer's, the id is hex from the subject's hash, never the subject.
    expect(Number(expiry) * 1000).toBe(Date.parse(body.expiresAt));
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(turn.username).not.toContain(subject);
    expect(turn.credential).toBe(await turnRest(SIGNING_SECRET, turn.username!));
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBeGreaterThan(0);
  });

  it("on an answer with no URL a browser can use: the fallback answers, degraded, and the breaker counts a failure", async () => {
    await activeVendingKey();
    // Port 53 only: every URL is dropped under every policy.
    await emulator.iceUrls({
      urls: ["turn:turn.cloudflare.com:53?transport=udp", "turn:turn.cloudflare.com:53?transport=tcp"],
    });
    const { res, body } = await vendWith(failover);
    expect(res.status).toBe(200);
    expect(body.provider).toBe("self-hosted");
    expect(body.degraded).toBe(true);
    expect(cloudflareEntry(body)).toBeUndefined();
    expect(selfHostedEntry(body)?.credential).toBeTruthy();
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(1);
    const health = await envelope<{ credential_api: { consecutive_failures: number } }>(
      await fetchWith(failover, "/healthz"),
    );
    expect(health.result.credential_api.consecutive_failures).toBe(1);
    // In cloudflare mode there is nowhere else to go: the same answer stays a 502.
    const plain = await vendWith({});
    expect(plain.res.status).toBe(502);
  });

  it("caps the self-hosted lifetime at FALLBACK_TTL_MAX_SECONDS and says so in ttl and expiresAt", async () => {
    await activeVendingKey();
    await fail503();
    const { body } = await vendWith({ ...failover, FALLBACK_TTL_MAX_SECONDS: "600" }, freshSubject(), { ttl: 7200 });
    expect(body.ttl).toBe(600);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
  });

  it("on a hang: answers within the deadline plus a small margin, from the fallback", async () => {
    await activeVendingKey();
    await emulator.fault({ route: "credentials.generate_ice_servers", hang: true, count: -1 });
    const deadline = 400;
    const { res, body, ms } = await vendWith({ ...failover, VEND_UPSTREAM_DEADLINE_MS: String(deadline) });
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ provider: "self-hosted", degraded: true });
    // It waited for Cloudflare until the deadline, less the reserve kept for the failover itself.
    expect(ms).toBeGreaterThanOrEqual(deadline - VEND_FAILOVER_RESERVE_MS - 10);
    expect(ms).toBeLessThan(deadline + 400);
  });

  it("with no TURN key set to vend: the fallback answers, degraded, with no upstream call", async () => {
    const { res, body } = await vendWith(failover);
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ provider: "self-hosted", degraded: true });
    expect((await emulator.calls()).total).toBe(0);
  });

  it("with the key store unreachable: the fallback answers, degraded, instead of a 503", async () => {
    await activeVendingKey();
    // A fresh isolate: no remembered key, no remembered guard state; the account object cannot be reached.
    forgetRecentActiveKey();
    forgetGuardMemory();
    const { res, body } = await vendWith({ ...failover, ACCOUNT_STATE: failingNamespace() });
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ provider: "self-hosted", degraded: true });
    expect((await emulator.calls())["credentials.generate_ice_servers"] ?? 0).toBe(0);
  });

  it("fallback sets count against the quota and are recorded in the user's ledger", async () => {
    await activeVendingKey();
    await fail503();
    const subject = freshSubject("quota");
    const settings = { ...failover, CREDENTIAL_SETS_PER_DAY: "1" };
    expect((await vendWith(settings, subject)).res.status).toBe(200);
    const second = await vendWith(settings, subject);
    expect(second.res.status).toBe(429);
    expect(JSON.parse(second.text).errors[0].code).toBe(10028);
  });

  it("a degraded set is never handed out again: the next vend within the reuse window asks Cloudflare", async () => {
    await activeVendingKey();
    await fail503();
    const subject = freshSubject("reuse");
    const settings = { ...failover, CREDENTIAL_REUSE_SECONDS: "300" };
    expect((await vendWith(settings, subject)).body.provider).toBe("self-hosted");
    await emulator.clearFaults();
    const second = await vendWith(settings, subject);
    expect(second.body.provider).toBe("cloudflare");
    expect(second.body.degraded).toBeUndefined();
  });
});

describe("the breaker on Cloudflare's credential API", { timeout: 30_000 }, () => {
  it(`opens after ${VEND_BREAKER_FAILURES} failed vends (then vends skip Cloudflare), shows in /healthz, and a probe closes it`, async () => {
    await activeVendingKey();
    await fail503();
    let now = Date.now();
    credentialBreaker.clock = () => now;
    for (let i = 0; i < VEND_BREAKER_FAILURES; i++) {
      expect((await vendWith(failover)).body.provider).toBe("self-hosted");
    }
    const callsWhenOpened = (await emulator.calls())["credentials.generate_ice_servers"];
    expect(callsWhenOpened).toBeGreaterThanOrEqual(VEND_BREAKER_FAILURES);
    const health = await envelope<{ credential_api: unknown }>(await fetchWith(failover, "/healthz"));
    expect(health.result.credential_api).toEqual({
      mode: "failover",
      state: "open",
      consecutive_failures: VEND_BREAKER_FAILURES,
      open_seconds: VEND_BREAKER_OPEN_MS / 1000,
    });

    // Open: straight to the fallback, fast, with no upstream call.
    const skipped = await vendWith(failover);
    expect(skipped.body).toMatchObject({ provider: "self-hosted", degraded: true });
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(callsWhenOpened);

    // Past the open period, Cloudflare recovered: the next vend probes it, gets Cloudflare's set, and closes the breaker.
    await emulator.clearFaults();
    now += VEND_BREAKER_OPEN_MS + 1;
    const probe = await vendWith(failover);
    expect(probe.body.provider).toBe("cloudflare");
    expect(probe.body.degraded).toBeUndefined();
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(callsWhenOpened + 1);
    expect(credentialBreaker.view()).toEqual({ state: "closed", consecutive_failures: 0, open_seconds: 0 });
  });

  it("a failed probe opens it again for another period", async () => {
    await activeVendingKey();
    await fail503();
    let now = Date.now();
    credentialBreaker.clock = () => now;
    for (let i = 0; i < VEND_BREAKER_FAILURES; i++) await vendWith(failover);
    now += VEND_BREAKER_OPEN_MS + 1;
    expect(credentialBreaker.view().state).toBe("half_open");
    const before = (await emulator.calls())["credentials.generate_ice_servers"];
    expect((await vendWith(failover)).body.provider).toBe("self-hosted");
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBeGreaterThan(before);
    expect(credentialBreaker.view()).toMatchObject({ state: "open", open_seconds: VEND_BREAKER_OPEN_MS / 1000 });
  });

  it("a probe whose vend never reports back (its request cancelled by a client hanging up) does not hold it open forever", () => {
    let now = Date.now();
    const breaker = new CredentialBreaker(() => now);
    for (let i = 0; i < VEND_BREAKER_FAILURES; i++) breaker.record(breaker.admit(), "failed");
    now += VEND_BREAKER_OPEN_MS + 1;
    expect(breaker.admit()).toBe("probe");
    // That probe's outcome is never recorded: Workers cancels a request's work when its client disconnects.
    expect(breaker.admit()).toBe("skip");
    now += VEND_BREAKER_OPEN_MS + 1;
    expect(breaker.admit()).toBe("probe");
    breaker.record("probe", "ok");
    expect(breaker.view().state).toBe("closed");
  });

  it("does not act in cloudflare mode: every vend asks Cloudflare", async () => {
    await activeVendingKey();
    await fail503();
    // Cloudflare's 5xx is a 502 (src/upstream/request.ts).
    for (let i = 0; i < VEND_BREAKER_FAILURES + 1; i++) expect((await vendWith({})).res.status).toBe(502);
    expect(credentialBreaker.view().state).toBe("closed");
  });
});

describe("both: one answer merging both providers", () => {
  it("holds Cloudflare's servers and the self-hosted ones, each with its own credential", async () => {
    await activeVendingKey();
    const { res, body } = await vendWith({ ...failover, TURN_PROVIDER_MODE: "both" });
    expect(res.status).toBe(200);
    expect(body.provider).toBe("both");
    expect(body.degraded).toBeUndefined();
    expect(cloudflareEntry(body)).toBeDefined();
    const own = selfHostedEntry(body)!;
    expect(own.credential).toBe(await turnRest(SIGNING_SECRET, own.username!));
    expect(body.iceServers.flatMap((s) => s.urls)).toEqual(expect.arrayContaining(FALLBACK_URLS));
    expect((await emulator.calls())["credentials.generate_ice_servers"]).toBe(1);
  });

  it("asks Cloudflare for the capped lifetime too: no half outlives the set's recorded expiry (and its revocability)", async () => {
    await activeVendingKey();
    const settings = { ...failover, TURN_PROVIDER_MODE: "both", FALLBACK_TTL_MAX_SECONDS: "600" };
    const { body } = await vendWith(settings, freshSubject(), { ttl: 7200 });
    expect(body.provider).toBe("both");
    expect(body.ttl).toBe(600);
    // The ledger and the username index keep the set until expiresAt; a Cloudflare credential living past it
    // could no longer be found to revoke.
    const username = cloudflareEntry(body)!.username!;
    const { credentials } = (await emulator.state()) as unknown as {
      credentials: { username: string; ttl: number }[];
    };
    expect(credentials.find((c) => c.username === username)?.ttl).toBe(600);
  });

  it("when Cloudflare fails: the self-hosted half alone, degraded", async () => {
    await activeVendingKey();
    await fail503();
    const { body } = await vendWith({ ...failover, TURN_PROVIDER_MODE: "both" });
    expect(body).toMatchObject({ provider: "self-hosted", degraded: true });
    expect(cloudflareEntry(body)).toBeUndefined();
  });
});

describe("self-hosted: no Cloudflare call at all", () => {
  it("answers the fallback's servers, not degraded, with zero upstream calls, even with a key set", async () => {
    await activeVendingKey();
    const { res, body } = await vendWith({ ...failover, TURN_PROVIDER_MODE: "self-hosted" });
    expect(res.status).toBe(200);
    expect(body.provider).toBe("self-hosted");
    expect(body.degraded).toBeUndefined();
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("VEND_FAIL_OPEN=stun", () => {
  it("with no TURN at all: 200, STUN only, degraded, nothing recorded against the quota", async () => {
    await activeVendingKey();
    await fail503();
    const subject = freshSubject("fail-open");
    const settings = { VEND_FAIL_OPEN: "stun", CREDENTIAL_SETS_PER_DAY: "1" };
    const { res, body } = await vendWith(settings, subject);
    expect(res.status).toBe(200);
    expect(body.iceServers).toEqual([{ urls: ["stun:stun.cloudflare.com:3478"] }]);
    expect(body.degraded).toBe(true);
    // A STUN-only answer is no credential: the quota of 1 is still whole once Cloudflare is back.
    await emulator.clearFaults();
    const later = await vendWith(settings, subject);
    expect(later.res.status).toBe(200);
    expect(later.body.provider).toBe("cloudflare");
  });

  it("under ICE_URLS=minimal: one STUN URL, as every other answer of that policy", async () => {
    await fail503();
    await activeVendingKey();
    const stuns = ["stun:turn.example.net:19302", "stun:turn.example.net:3478"];
    const settings = {
      ...failover,
      TURN_PROVIDER_MODE: "cloudflare",
      FALLBACK_TURN_URLS: [...stuns, ...FALLBACK_URLS.slice(1)].join(","),
      VEND_FAIL_OPEN: "stun",
      ICE_URLS: "minimal",
    };
    const { res, body } = await vendWith(settings);
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ provider: "self-hosted", degraded: true });
    expect(body.iceServers).toEqual([{ urls: [stuns[1]] }]);
  });

  it("off (the default): the same outage is Cloudflare's failure, 502", async () => {
    await activeVendingKey();
    await fail503();
    const { res, text } = await vendWith({});
    expect(res.status).toBe(502);
    expect(JSON.parse(text).success).toBe(false);
  });

  it("off, with a hang: 503 with Retry-After once the deadline has passed, never a hang", async () => {
    await activeVendingKey();
    await emulator.fault({ route: "credentials.generate_ice_servers", hang: true, count: -1 });
    const { res, ms } = await vendWith({ VEND_UPSTREAM_DEADLINE_MS: "300" });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).not.toBeNull();
    expect(ms).toBeLessThan(300 + 400);
  });
});

describe("the fallback secret stays secret", () => {
  it("appears in no answer and no log line, while the vend logs its provider and the failover", async () => {
    await activeVendingKey();
    await fail503();
    const logs = captureConsole();
    try {
      const settings = { ...failover, FALLBACK_TURN_SECRET: `${SIGNING_SECRET},${OLD_SECRET}` };
      const { text } = await vendWith(settings);
      const health = await (await fetchWith(settings, "/healthz")).text();
      for (const secret of [SIGNING_SECRET, OLD_SECRET]) {
        expect(text).not.toContain(secret);
        expect(health).not.toContain(secret);
        expect(logs.raw.join("\n")).not.toContain(secret);
      }
      const request = logs.json().find((l) => l.event === "request" && l.route === "ice_servers.vend");
      expect(request).toMatchObject({ provider: "self-hosted", degraded: true, cloudflare: "failed" });
      expect(logs.json().some((l) => l.event === "vend.cloudflare_failed")).toBe(true);
    } finally {
      logs.restore();
    }
  });
});

describe("FALLBACK_TURN_SECRET rotation", () => {
  it("the first secret signs; the second stays configured (for the TURN server) and signs nothing", async () => {
    const { body } = await vendWith({
      ...failover,
      TURN_PROVIDER_MODE: "self-hosted",
      FALLBACK_TURN_SECRET: `${SIGNING_SECRET},${OLD_SECRET}`,
    });
    const turn = selfHostedEntry(body)!;
    expect(turn.credential).toBe(await turnRest(SIGNING_SECRET, turn.username!));
    expect(turn.credential).not.toBe(await turnRest(OLD_SECRET, turn.username!));
  });
});

describe("revoking self-hosted credentials", () => {
  it("reports them as not revocable, honestly, instead of counting them revoked", async () => {
    const { body } = await vendWith({ ...failover, TURN_PROVIDER_MODE: "self-hosted" });
    const username = selfHostedEntry(body)!.username!;
    const res = await call(REVOKE_PATH, { method: "POST", body: { username } });
    expect(res.status).toBe(200);
    const answer = await envelope<{ revoked: number; not_revocable: number }>(res);
    expect(answer.result).toEqual({ revoked: 0, not_revocable: 1 });
    expect(answer.messages).toEqual([{ code: 10052, message: expect.stringContaining("cannot be revoked") }]);
    expect((await emulator.calls()).total).toBe(0);
  });
});

describe("revoking one username of a `both` set", () => {
  it("revokes the Cloudflare half and names the set's self-hosted half as not revocable (10052)", async () => {
    await activeVendingKey();
    const { body } = await vendWith({ ...failover, TURN_PROVIDER_MODE: "both" });
    const username = cloudflareEntry(body)!.username!;
    const res = await call(REVOKE_PATH, { method: "POST", body: { username } });
    expect(res.status).toBe(200);
    const answer = await envelope<{ revoked: number; not_revocable: number }>(res);
    expect(answer.result).toEqual({ revoked: 1, not_revocable: 1 });
    expect(answer.messages).toEqual([{ code: 10052, message: expect.stringContaining("cannot be revoked") }]);
    expect((await emulator.calls())["credentials.revoke"]).toBe(1);
  });
});

describe("settings are validated: a clear configuration problem, never a 500", () => {
  const cases: { label: string; settings: Record<string, string>; names: string[] }[] = [
    {
      label: "failover with no fallback",
      settings: { TURN_PROVIDER_MODE: "failover" },
      names: ["FALLBACK_TURN_URLS", "FALLBACK_TURN_SECRET"],
    },
    {
      label: "self-hosted with an empty secret",
      settings: { ...failover, TURN_PROVIDER_MODE: "self-hosted", FALLBACK_TURN_SECRET: "" },
      names: ["FALLBACK_TURN_SECRET"],
    },
    { label: "an unknown mode", settings: { TURN_PROVIDER_MODE: "sometimes" }, names: ["TURN_PROVIDER_MODE"] },
    {
      label: "an http URL",
      settings: { ...failover, FALLBACK_TURN_URLS: "https://turn.example.net" },
      names: ["FALLBACK_TURN_URLS"],
    },
    {
      label: "a port-53 URL",
      settings: { ...failover, FALLBACK_TURN_URLS: "turn:turn.example.net:53" },
      names: ["FALLBACK_TURN_URLS"],
    },
    {
      label: "STUN only",
      settings: { ...failover, FALLBACK_TURN_URLS: "stun:turn.example.net" },
      names: ["FALLBACK_TURN_URLS"],
    },
    {
      label: "an empty secret entry",
      settings: { ...failover, FALLBACK_TURN_SECRET: `${SIGNING_SECRET},,x` },
      names: ["FALLBACK_TURN_SECRET"],
    },
    {
      label: "a deadline out of range",
      settings: { VEND_UPSTREAM_DEADLINE_MS: "20" },
      names: ["VEND_UPSTREAM_DEADLINE_MS"],
    },
    {
      label: "a fallback TTL cap out of range",
      settings: { FALLBACK_TTL_MAX_SECONDS: "10" },
      names: ["FALLBACK_TTL_MAX_SECONDS"],
    },
    { label: "VEND_FAIL_OPEN=yes", settings: { VEND_FAIL_OPEN: "yes" }, names: ["VEND_FAIL_OPEN"] },
    { label: "ICE_URLS=few", settings: { ICE_URLS: "few" }, names: ["ICE_URLS"] },
  ];
  for (const { label, settings, names } of cases) {
    it(`${label}: /healthz and the vend answer 503 naming ${names.join(", ")}, with no secret in the answer`, async () => {
      const health = await fetchWith(settings, "/healthz");
      expect(health.status).toBe(503);
      const text = await health.text();
      for (const name of names) expect(text).toContain(name);
      const vended = await vendWith(settings);
      expect(vended.res.status).toBe(503);
      expect(JSON.parse(vended.text).errors[0].code).toBe(10033);
      for (const secret of [...SECRET_VALUES, SIGNING_SECRET]) {
        expect(text).not.toContain(secret);
        expect(vended.text).not.toContain(secret);
      }
      expect((await emulator.calls()).total).toBe(0);
    });
  }

  it("a short signing secret is refused for a deployed Worker (non-loopback upstream), not for local runs", async () => {
    const remote = {
      ...failover,
      FALLBACK_TURN_SECRET: "short",
      CF_API_BASE_URL: "https://api.cloudflare.com/client/v4",
      RTC_API_BASE_URL: "https://rtc.live.cloudflare.com/v1",
    };
    const text = await (await fetchWith(remote, "/healthz")).text();
    expect(text).toContain("FALLBACK_TURN_SECRET's first (signing) entry must be at least 16 bytes");
    expect((await vendWith({ ...failover, FALLBACK_TURN_SECRET: "short" })).res.status).toBe(200);
  });
});

describe("ICE_URLS=minimal on what Cloudflare answers", () => {
  const cases = [
    {
      preset: "legacy" as const,
      kept: [
        "stun:stun.cloudflare.com:3478",
        "turn:turn.cloudflare.com:3478?transport=udp",
        "turns:turn.cloudflare.com:443?transport=tcp",
      ],
    },
    {
      preset: "current" as const,
      kept: [
        "stun:stun.cloudflare.com:3478",
        "turn:turn.cloudflare.com:3478?transport=udp",
        "turns:turn.cloudflare.com:443?transport=tcp",
      ],
    },
  ];
  for (const { preset, kept } of cases) {
    it(`the ${preset} list comes down to one STUN, one TURN/UDP and turns:443; "all" keeps every URL but port 53`, async () => {
      await activeVendingKey();
      const { urls } = await emulator.iceUrls({ preset });
      const minimal = await vendWith({ ICE_URLS: "minimal" });
      expect(minimal.body.iceServers.flatMap((s) => s.urls)).toEqual(kept);
      const all = await vendWith({ ICE_URLS: "all" });
      expect(all.body.iceServers.flatMap((s) => s.urls)).toEqual(urls.filter((u) => !/:53(\?|$)/.test(u)));
    });
  }
});
