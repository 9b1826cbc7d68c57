// The usage page (public/usage.*) as the static assets serve it, and GET /v1/dev/caller-token, the dev-only
// route its "use the dev token" button reads. test/e2e/usage-page.test.mjs runs the page in Chromium.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, envelope, fromAssets } from "./support/api";
import { fetchWith } from "./support/vend";

const PRODUCTION_UPSTREAMS = {
  CF_API_BASE_URL: "https://api.cloudflare.com/client/v4",
  RTC_API_BASE_URL: "https://rtc.live.cloudflare.com/v1",
  // The test configuration's webhook is the loopback emulator, which only local development may use.
  ALERT_WEBHOOK_URL: "",
  ALERT_WEBHOOK_SECRET: "",
};
/** The published dev caller token (scripts/dev-defaults.mjs) and its hash as `npm start` puts it in CALLERS. */
const DEV_CALLER_TOKEN = "dev-admin-token";
const DEV_CALLER_SHA256 = "1734d503f6aa6a047c36d113cbad769f719c93784b469b771c4c3e7c63adbefd";

/** The local-development Worker (src/dev.ts) with settings overridden. */
async function devFetch(overrides: Record<string, string>, path: string, init?: RequestInit): Promise<Response> {
  const { default: devWorker } = await import("../src/dev");
  const ctx = createExecutionContext();
  const res = await devWorker.fetch(
    new Request(`http://turnvend.test${path}`, init) as Request<unknown, IncomingRequestCfProperties>,
    { ...env, ...overrides } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

function withDevCaller(): string {
  const callers = JSON.parse(env.CALLERS as string) as unknown[];
  return JSON.stringify([
    ...callers,
    { id: "dev-admin", token_sha256: DEV_CALLER_SHA256, scopes: ["audit:read", "keys:read"] },
  ]);
}

describe("GET /usage (the usage page)", () => {
  it("is an HTML page whose script and style are files from this origin, under the connectivity page's CSP", async () => {
    const res = await fromAssets("/usage");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    // The very policy of the connectivity page: one origin for scripts, styles and requests, nothing inline.
    const csp = res.headers.get("content-security-policy");
    expect(csp).toBe((await fromAssets("/")).headers.get("content-security-policy"));
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    expect([...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1])).toEqual([' src="/usage.js" defer']);
    expect([...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/g)].map((m) => m[0])).toEqual([
      '<link rel="stylesheet" href="/usage.css">',
    ]);
    expect(html).not.toMatch(/<style\b|\sstyle=/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    // A text alternative for the chart.
    expect(html).toContain('id="series-table"');
  });

  it("reads GET /v1/usage with the token in a header only, keeps it at most in sessionStorage, and writes no HTML", async () => {
    const script = await (await fromAssets("/usage.js")).text();
    expect(script).toContain(
      'fetch("/v1/usage", { cache: "no-store", headers: { authorization: "Bearer " + token } })',
    );
    expect(script).toContain("sessionStorage");
    expect(script).not.toMatch(/localStorage|document\.cookie|innerHTML|outerHTML|insertAdjacentHTML|eval\(/);
    // No request leaves the origin, and no token rides in a URL.
    expect(script).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(script).not.toMatch(/[?&](token|access_token)=/);
    // No token is shipped in the file: the dev one comes from the dev-only route.
    expect(script).not.toContain(DEV_CALLER_TOKEN);
    expect(await (await fromAssets("/usage.html")).text()).not.toContain(DEV_CALLER_TOKEN);
  });
});

describe("GET /v1/dev/caller-token", () => {
  it("answers the dev caller token while CALLERS holds it, and that token authenticates", async () => {
    const callers = withDevCaller();
    const res = await devFetch({ CALLERS: callers }, "/v1/dev/caller-token");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { result } = await envelope<{ token: string; caller: string; scopes: string[] }>(res);
    expect(result).toEqual({ token: DEV_CALLER_TOKEN, caller: "dev-admin", scopes: ["audit:read", "keys:read"] });
    const audit = await devFetch({ CALLERS: callers }, "/v1/audit?limit=1", {
      headers: { authorization: `Bearer ${result.token}` },
    });
    expect(audit.status).toBe(200);
  });

  it("answers 503 without the token when CALLERS no longer holds the dev caller", async () => {
    const res = await call("/v1/dev/caller-token", { as: "none" });
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body).errors[0].code).toBe(10033);
    expect(body).not.toContain(DEV_CALLER_TOKEN);
  });

  it("does not exist outside local development, nor in the deployed Worker", async () => {
    const outside = await devFetch(PRODUCTION_UPSTREAMS, "/v1/dev/caller-token");
    expect(outside.status).toBe(404);
    expect((await envelope(outside)).errors[0].code).toBe(10020);
    // Off loopback the dev caller itself is refused by the configuration (503), and the token never shows.
    const published = await devFetch({ ...PRODUCTION_UPSTREAMS, CALLERS: withDevCaller() }, "/v1/dev/caller-token");
    expect(published.status).toBe(503);
    expect(await published.text()).not.toContain(DEV_CALLER_TOKEN);
    const deployed = await fetchWith({ CALLERS: withDevCaller() }, "/v1/dev/caller-token");
    expect(deployed.status).toBe(404);
    expect(await deployed.text()).not.toContain(DEV_CALLER_TOKEN);
  });

  it("answers other methods with 405", async () => {
    const res = await call("/v1/dev/caller-token", { as: "none", method: "POST", body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});
