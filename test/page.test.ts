import { decodeJwt } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { call, envelope } from "./support/api";
import { emulator } from "./support/emulator";
import { activeVendingKey, fetchWith, vend, type Vended } from "./support/vend";

beforeEach(async () => {
  await emulator.reset();
});

const PRODUCTION_UPSTREAMS = { CF_API_BASE_URL: "https://api.cloudflare.com/client/v4", RTC_API_BASE_URL: "https://rtc.live.cloudflare.com/v1" };

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
  it("serves one self-contained HTML page under a strict nonce-based CSP", async () => {
    const res = await call("/", { as: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();

    const csp = cspDirectives(res);
    expect(csp.get("default-src")).toBe("'none'");
    expect(csp.get("connect-src")).toBe("'self'");
    const nonce = /'nonce-([^']+)'/.exec(csp.get("script-src") ?? "")?.[1];
    expect(nonce).toBeTruthy();
    expect(csp.get("style-src")).toBe(`'nonce-${nonce}'`);
    expect(csp.get("script-src")).not.toContain("unsafe");
    // Every inline script and style carries this response's nonce; nothing is loaded from elsewhere.
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    const styles = [...html.matchAll(/<style\b([^>]*)>/g)].map((m) => m[1]);
    expect(scripts.length).toBe(1);
    expect(styles.length).toBe(1);
    for (const attrs of [...scripts, ...styles]) expect(attrs).toBe(` nonce="${nonce}"`);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it("uses a fresh nonce on every response", async () => {
    const a = cspDirectives(await call("/", { as: "none" })).get("script-src");
    const b = cspDirectives(await call("/", { as: "none" })).get("script-src");
    expect(a).not.toBe(b);
  });

  it("runs ICE gathering with the vended servers and shows candidates, timings and the verdict", async () => {
    const html = await (await call("/", { as: "none" })).text();
    expect(html).toContain('id="verdict"');
    expect(html).toContain('"TURN relay reachable: " + (yes ? "yes" : "no")');
    for (const needle of ["/v1/ice-servers", "new RTCPeerConnection({ iceServers", "createDataChannel", "createOffer", "setLocalDescription", "icecandidate", "icecandidateerror", "relay", "srflx", "performance.now()", "event.url"]) {
      expect(html).toContain(needle);
    }
    // Network data is written as text, never parsed as HTML.
    expect(html).not.toContain("innerHTML");
  });

  it("knows it is in local development when the upstream is the loopback emulator, and not otherwise", async () => {
    expect(await (await call("/", { as: "none" })).text()).toContain('data-dev="true"');
    expect(await (await fetchWith(PRODUCTION_UPSTREAMS, "/")).text()).toContain('data-dev="false"');
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

  it("refuses a ttl over an hour", async () => {
    expect((await call("/v1/dev/jwt?sub=a&ttl=7200", { as: "none" })).status).toBe(400);
  });
});
