import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { decodeJwt } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope, fromAssets } from "./support/api";
import { emulator } from "./support/emulator";
import { activeVendingKey, fetchWith, userJwt, vend, type Vended } from "./support/vend";

const userJwtFor = (label: string) => userJwt(`${label}-${crypto.randomUUID()}`);

beforeEach(async () => {
  await emulator.reset();
});

const PRODUCTION_UPSTREAMS = {
  CF_API_BASE_URL: "https://api.cloudflare.com/client/v4",
  RTC_API_BASE_URL: "https://rtc.live.cloudflare.com/v1",
  // The test env's webhook is the emulator's plain-http loopback sink: refused with production upstreams.
  ALERT_WEBHOOK_URL: "",
};

function cspDirectives(res: Response): Map<string, string> {
  const csp = res.headers.get("content-security-policy") ?? "";
  return new Map(
    csp
      .split(";")
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => [d.split(/\s+/)[0], d.slice(d.indexOf(" ") + 1)] as [string, string]),
  );
}

describe("GET / (the connectivity page)", () => {
  it("serves an HTML page whose script and style are files from this origin, under a strict CSP", async () => {
    const res = await fromAssets("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();

    const csp = cspDirectives(res);
    expect(csp.get("default-src")).toBe("'none'");
    expect(csp.get("connect-src")).toBe("'self'");
    expect(csp.get("script-src")).toBe("'self'");
    expect(csp.get("style-src")).toBe("'self'");
    // One script and one stylesheet, both files from this origin; nothing inline, nothing from elsewhere.
    expect([...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1])).toEqual([' src="/connectivity.js" defer']);
    expect([...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/g)].map((m) => m[0])).toEqual([
      '<link rel="stylesheet" href="/connectivity.css">',
    ]);
    expect(html).not.toMatch(/<style\b|\sstyle=/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it("runs ICE gathering with the vended servers and shows candidates, timings and the verdict", async () => {
    const res = await fromAssets("/connectivity.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    const script = await res.text();
    const page = await (await fromAssets("/")).text();
    expect(page).toContain('id="verdict"');
    expect(page).toContain('id="provider"');
    expect(script).toContain('"TURN relay reachable: " + (yes ? "yes" : "no")');
    for (const needle of [
      "/v1/ice-servers",
      "new RTCPeerConnection({ iceServers",
      "createDataChannel",
      "createOffer",
      "setLocalDescription",
      "icecandidate",
      "icecandidateerror",
      "relay",
      "srflx",
      "performance.now()",
      "event.url",
      // Which provider served the check, and whether it was degraded.
      "vended.provider",
      "vended.degraded",
      "Served by: ",
    ]) {
      expect(script).toContain(needle);
    }
    // Network data is written as text, never parsed as HTML.
    expect(script).not.toContain("innerHTML");
    const css = await fromAssets("/connectivity.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
  });

  it("asks for a dev JWT only when opened on a loopback address, and only local development answers", async () => {
    const script = await (await fromAssets("/connectivity.js")).text();
    expect(script).toContain('fetch("/v1/dev/jwt?sub="');
    expect(script).toContain('if (!["localhost", "127.0.0.1", "[::1]"].includes(location.hostname)) return;');
    expect((await call("/v1/dev/jwt?sub=probe", { as: "none" })).status).toBe(200);
    expect((await fetchWith(PRODUCTION_UPSTREAMS, "/v1/dev/jwt?sub=probe")).status).toBe(404);
  });
});

describe("GET /v1/dev/jwt", () => {
  it("mints an HS256 end-user JWT in local development that the vend route accepts", async () => {
    await activeVendingKey();
    const res = await call("/v1/dev/jwt?sub=alice&ttl=300", { as: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { token } = (await envelope<{ token: string }>(res)).result;
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: "turnvend-test", aud: "turnvend", sub: "alice" });
    expect(claims.exp! - claims.iat!).toBe(300);
    const vended = await vend(token);
    expect(vended.status).toBe(200);
    expect(((await vended.json()) as Vended).iceServers.length).toBeGreaterThan(0);
  });

  it("does not exist outside local development", async () => {
    const res = await fetchWith(PRODUCTION_UPSTREAMS, "/v1/dev/jwt?sub=alice");
    expect(res.status).toBe(404);
    expect((await envelope(res)).errors[0].code).toBe(10020);
  });

  it("is not in the deployed Worker at all: src/index.ts answers 404 even on loopback upstreams", async () => {
    const res = await fetchWith({}, "/v1/dev/jwt?sub=alice");
    expect(res.status).toBe(404);
    expect((await envelope(res)).errors[0].code).toBe(10020);
  });

  it("answers other methods with 405 locally, and 404 outside local development", async () => {
    const res = await call("/v1/dev/jwt", { as: "none", method: "POST", body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect((await fetchWith(PRODUCTION_UPSTREAMS, "/v1/dev/jwt", { method: "POST" })).status).toBe(404);
  });

  it("refuses a ttl over an hour", async () => {
    expect((await call("/v1/dev/jwt?sub=a&ttl=7200", { as: "none" })).status).toBe(400);
  });

  it("mints no token longer-lived than JWT_MAX_LIFETIME_SECONDS allows", async () => {
    // The local-development Worker (src/dev.ts) with the setting overridden; fetchWith runs the deployed one.
    const { default: devWorker } = await import("../src/dev");
    const get = async (path: string) => {
      const ctx = createExecutionContext();
      const overridden = { ...env, JWT_MAX_LIFETIME_SECONDS: "300" } as Env;
      const res = await devWorker.fetch(new Request(`http://turnvend.test${path}`), overridden, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    expect((await get("/v1/dev/jwt?sub=a&ttl=600")).status).toBe(400);
    const res = await get("/v1/dev/jwt?sub=a");
    expect(res.status).toBe(200);
    const claims = decodeJwt((await envelope<{ token: string }>(res)).result.token);
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it("refuses a sub the vend route would refuse: control characters, not plain text", async () => {
    for (const sub of ["a%0Ab", "a%00b", "%C2%85"]) {
      expect((await call(`/v1/dev/jwt?sub=${sub}`, { as: "none" })).status).toBe(400);
    }
  });
});

describe("GET /v1/dev/usage", () => {
  const usage = async () => {
    const res = await call("/v1/dev/usage", { as: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    return (await envelope<Record<string, number>>(res)).result;
  };

  it("counts the billable operations of the local stack, for the benchmark to price", async () => {
    await activeVendingKey();
    const before = await usage();
    expect((await vend(await userJwtFor("metered"))).status).toBe(200);
    const after = await usage();
    // The vend and the second read of the counts.
    expect(after.worker_requests - before.worker_requests).toBe(2);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const k of Object.keys(after)) expect(after[k]).toBeGreaterThanOrEqual(before[k]);
  });

  it("does not exist outside local development", async () => {
    const { default: dev } = await import("../src/dev");
    const { env, createExecutionContext } = await import("cloudflare:test");
    const res = await dev.fetch(
      new Request("http://turnvend.test/v1/dev/usage"),
      { ...env, ...PRODUCTION_UPSTREAMS } as Env,
      createExecutionContext(),
    );
    expect(res.status).toBe(404);
    expect((await envelope(res)).errors[0].code).toBe(10020);
  });
});
