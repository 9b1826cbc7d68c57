import { env } from "cloudflare:test";
import * as v from "valibot";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { parseIceUrl, selectIceUrls, shapeIceServers } from "../src/vend/browser-ice-servers";
import { credentialUsernames, GenerateResponse, RtcApi } from "../src/upstream/rtc-api";
import { UpstreamBudget } from "../src/upstream/budget";

const emulatorUrl = () => (env as unknown as { EMULATOR_URL: string }).EMULATOR_URL;
const parse = (data: unknown) => v.parse(GenerateResponse, data).iceServers;

beforeEach(async () => {
  await resetWorld();
});

describe("port-53 filtering", () => {
  it.each([
    "stun:stun.cloudflare.com:53",
    "turn:turn.cloudflare.com:53?transport=udp",
    "turn:turn.cloudflare.com:53?transport=tcp",
    "turns:turn.cloudflare.com:53?transport=tcp",
    "turn:[2001:db8::1]:53?transport=udp",
    "turn:198.51.100.1:053",
  ])("drops %s", (url) => {
    expect(shapeIceServers([{ urls: [url, "turn:turn.example:3478"] }])[0].urls).toEqual(["turn:turn.example:3478"]);
  });

  it.each([
    "stun:stun.cloudflare.com:3478",
    "stun:stun.cloudflare.com",
    "turn:turn.cloudflare.com:5353?transport=udp",
    "turns:turn.cloudflare.com:443?transport=tcp",
    "turn:[2001:db8::53]:3478",
    "turn:host53.example:3478",
  ])("keeps %s", (url) => {
    expect(shapeIceServers([{ urls: [url] }])[0].urls).toEqual([url]);
  });

  it("drops URLs that are not STUN or TURN, or not parseable", () => {
    const shaped = shapeIceServers([
      { urls: ["https://example.com/", "javascript:alert(1)", "turn:", "turn:host:99999", "stun:ok.example:3478"] },
    ]);
    expect(shaped).toEqual([{ urls: ["stun:ok.example:3478"] }]);
  });

  it("drops an entry whose every URL was filtered out", () => {
    const shaped = shapeIceServers([
      { urls: ["stun:stun.cloudflare.com:53"] },
      { urls: ["turn:t.example:3478"], username: "u", credential: "c" },
    ]);
    expect(shaped).toEqual([{ urls: ["turn:t.example:3478"], username: "u", credential: "c" }]);
  });

  it("reads default ports from the scheme", () => {
    expect(parseIceUrl("stun:h")?.port).toBe(3478);
    expect(parseIceUrl("turns:h?transport=tcp")?.port).toBe(5349);
  });
});

describe("normalizing upstream shapes", () => {
  it("wraps the legacy single object and a string urls into the array form", () => {
    const shaped = shapeIceServers(
      parse({ iceServers: { urls: "turn:t.example:3478?transport=udp", username: "u1", credential: "c1" } }),
    );
    expect(shaped).toEqual([{ urls: ["turn:t.example:3478?transport=udp"], username: "u1", credential: "c1" }]);
  });

  it("never passes through fields other than urls, username and credential", () => {
    const shaped = shapeIceServers(
      parse({
        iceServers: [
          {
            urls: ["turn:t.example:3478"],
            username: "u",
            credential: "c",
            credentialType: "password",
            secret: "s3cr3t",
            ttl: 5,
          },
        ],
        extra: 1,
      }),
    );
    expect(shaped).toEqual([{ urls: ["turn:t.example:3478"], username: "u", credential: "c" }]);
  });

  it("refuses answers that are not ICE servers", () => {
    for (const bad of [
      {},
      { iceServers: "x" },
      { iceServers: [] },
      { iceServers: [{ urls: [] }] },
      { iceServers: [{ urls: 5 }] },
      { iceServers: [{ urls: "stun:x", username: 7 }] },
    ]) {
      expect(v.safeParse(GenerateResponse, bad).success).toBe(false);
    }
  });

  it("normalizes the emulator's legacy generate answer and filters its port-53 URLs", async () => {
    const key = await emulator.createOutOfBand("legacy");
    const res = await fetch(`${emulatorUrl()}/v1/turn/keys/${key.uid}/credentials/generate`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ ttl: 600 }),
    });
    expect(res.status).toBe(201);
    const raw = (await res.json()) as { iceServers: { urls: string[] } };
    expect(Array.isArray(raw.iceServers)).toBe(false);
    expect(raw.iceServers.urls.some((u) => /:53(\?|$)/.test(u))).toBe(true);

    const upstream = parse(raw);
    const shaped = shapeIceServers(upstream);
    expect(shaped).toHaveLength(1);
    expect(shaped[0].urls).toEqual(raw.iceServers.urls.filter((u) => !/:53(\?|$)/.test(u)));
    expect(shaped[0].username).toBeTruthy();
    expect(credentialUsernames(upstream)).toEqual([shaped[0].username]);
  });

  it("normalizes the emulator's current generate-ice-servers answer the same way", async () => {
    const key = await emulator.createOutOfBand("current");
    const api = new RtcApi(`${emulatorUrl()}/v1`, new UpstreamBudget());
    const upstream = await api.generateIceServers(key.uid, key.key, { ttl: 600, customIdentifier: "0".repeat(32) });
    const shaped = shapeIceServers(upstream.iceServers);
    expect(shaped.map((s) => Object.keys(s).sort())).toEqual([["urls"], ["credential", "urls", "username"]]);
    for (const url of shaped.flatMap((s) => s.urls)) expect(url).not.toMatch(/:53(\?|$)/);
  });
});

describe("the rtc client", () => {
  it("URL-encodes the username it revokes", async () => {
    const seen: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return new Response(null, { status: 204 });
    });
    try {
      const api = new RtcApi("https://rtc.example.test/v1", new UpstreamBudget());
      expect(await api.revoke("a".repeat(32), "secret", "../x/y?z#w:1")).toBe("revoked");
    } finally {
      vi.restoreAllMocks();
    }
    expect(seen).toEqual([
      `https://rtc.example.test/v1/turn/keys/${"a".repeat(32)}/credentials/..%2Fx%2Fy%3Fz%23w%3A1/revoke`,
    ]);
  });
});

describe("ICE_URLS=minimal (selectIceUrls): one STUN, one TURN/UDP, one TURN over TCP/TLS, 443 first", () => {
  const host = "turn.cloudflare.com";
  const stun = (port: number) => `stun:stun.cloudflare.com:${port}`;
  const udp = (port: number) => `turn:${host}:${port}?transport=udp`;
  const tcp = (port: number) => `turn:${host}:${port}?transport=tcp`;
  const tls = (port: number) => `turns:${host}:${port}?transport=tcp`;
  /** As Cloudflare answers: STUN alone, TURN together with the credential; port 53 already dropped by shaping. */
  const answer = (urls: string[]) =>
    shapeIceServers(
      [
        { urls: urls.filter((u) => u.startsWith("stun")) },
        { urls: urls.filter((u) => !u.startsWith("stun")), username: "u", credential: "c" },
      ].filter((s) => s.urls.length > 0),
    );
  const minimal = (urls: string[]) => selectIceUrls(answer(urls), "minimal").flatMap((s) => s.urls);

  // Every list Cloudflare's docs have shown, and each kind of URL alone: 53/udp, 3478/udp, 443/udp, 3478/tcp,
  // 80/tcp, 5349/tls, 443/tls.
  const cases: { label: string; urls: string[]; kept: string[] }[] = [
    {
      label: "the older docs' list (53/udp, 3478/udp, 3478/tcp, 80/tcp, 5349/tls, 443/tls)",
      urls: [stun(3478), stun(53), udp(3478), udp(53), tcp(3478), tcp(80), tls(5349), tls(443)],
      kept: [stun(3478), udp(3478), tls(443)],
    },
    {
      label: "the current docs' list (443/udp instead of 53)",
      urls: [stun(3478), udp(3478), udp(443), tcp(3478), tcp(80), tls(5349), tls(443)],
      kept: [stun(3478), udp(3478), tls(443)],
    },
    { label: "53/udp only: nothing (port 53 goes under every policy)", urls: [udp(53)], kept: [] },
    { label: "3478/udp", urls: [udp(3478)], kept: [udp(3478)] },
    { label: "443/udp when 3478/udp is missing", urls: [udp(53), udp(443)], kept: [udp(443)] },
    { label: "3478/tcp when nothing on 443 or 80 and no TLS", urls: [tcp(3478)], kept: [tcp(3478)] },
    { label: "80/tcp before 3478/tcp and 5349/tls", urls: [tcp(3478), tls(5349), tcp(80)], kept: [tcp(80)] },
    { label: "5349/tls before 3478/tcp", urls: [tcp(3478), tls(5349)], kept: [tls(5349)] },
    {
      label: "443/tls before everything else over TCP",
      urls: [tcp(80), tls(5349), tls(443), tcp(443)],
      kept: [tls(443)],
    },
    { label: "443/tcp before 80/tcp", urls: [tcp(80), tcp(443)], kept: [tcp(443)] },
  ];
  for (const { label, urls, kept } of cases) {
    it(label, () => {
      expect(minimal(urls)).toEqual(kept);
      // "all" keeps every URL shaping kept: everything but port 53.
      expect(selectIceUrls(answer(urls), "all").flatMap((s) => s.urls)).toEqual(
        urls.filter((u) => !/:53\?|:53$/.test(u)),
      );
    });
  }

  it("keeps each URL in its own entry, with that entry's credential", () => {
    const servers = selectIceUrls(answer([stun(3478), udp(3478), tcp(80), tls(443)]), "minimal");
    expect(servers).toEqual([{ urls: [stun(3478)] }, { urls: [udp(3478), tls(443)], username: "u", credential: "c" }]);
  });
});
