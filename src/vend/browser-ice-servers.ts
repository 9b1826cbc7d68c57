// What browsers get: an array of { urls: string[], username?, credential? } built field by field from
// the validated upstream answer, without port-53 URLs or anything but STUN/TURN.
import type { IceServer } from "../contract/responses";
import { parseIceUrl } from "../ice-url";
import type { UpstreamIceServer } from "../upstream/rtc-api";

export { parseIceUrl } from "../ice-url";

// Chrome and Firefox block port 53; a client without trickle ICE stalls ~40 s on such URLs
// (docs/cloudflare-upstream.md#ice-server-urls).
const BLOCKED_PORTS = new Set([53]);
const ICE_SCHEMES = new Set(["stun", "stuns", "turn", "turns"]);

/** Normalizes the legacy single-object shape and string `urls`, drops blocked URLs and empty entries. */
export function shapeIceServers(upstream: UpstreamIceServer | UpstreamIceServer[]): IceServer[] {
  const list = Array.isArray(upstream) ? upstream : [upstream];
  const shaped: IceServer[] = [];
  for (const server of list) {
    const urls = (typeof server.urls === "string" ? [server.urls] : server.urls).filter(isUsableUrl);
    if (urls.length === 0) continue;
    const out: IceServer = { urls };
    if (server.username !== undefined) out.username = server.username;
    if (server.credential !== undefined) out.credential = server.credential;
    shaped.push(out);
  }
  return shaped;
}

function isUsableUrl(url: string): boolean {
  const parsed = parseIceUrl(url);
  return parsed !== undefined && ICE_SCHEMES.has(parsed.scheme) && !BLOCKED_PORTS.has(parsed.port);
}

/** ICE_URLS: "all" keeps every usable URL; "minimal" keeps one of each kind (selectIceUrls). */
export type IceUrlPolicy = "all" | "minimal";

/**
 * The ICE_URLS=minimal rule, applied to one provider's servers (README, "ICE URL policy"). A client without
 * trickle ICE waits on every URL it cannot reach, so at most three are kept:
 * - one STUN URL: stun: on 3478, else any stun:, else stuns:;
 * - one TURN over UDP: port 3478, else 443, else any;
 * - one TURN over TCP or TLS, for networks that only let 443 out: turns: on 443, else turn: over TCP on 443,
 *   else turn: over TCP on 80, else turns: on any port (5349), else turn: over TCP on any port.
 * Port 53 never gets here: shapeIceServers drops it under every policy. Each URL stays in its own entry, with
 * that entry's credential; an entry left with no URL goes.
 */
export function selectIceUrls(servers: IceServer[], policy: IceUrlPolicy): IceServer[] {
  if (policy === "all") return servers;
  const all = servers.flatMap((server) =>
    server.urls.flatMap((url) => {
      const parsed = parseIceUrl(url);
      return parsed ? [{ url, ...parsed }] : [];
    }),
  );
  type Candidate = (typeof all)[number];
  const first = (...tests: ((c: Candidate) => boolean)[]) => {
    for (const test of tests) {
      const hit = all.find(test);
      if (hit) return hit.url;
    }
    return undefined;
  };
  const stun = first(
    (c) => c.scheme === "stun" && c.port === 3478,
    (c) => c.scheme === "stun",
    (c) => c.scheme === "stuns",
  );
  const udp = (c: Candidate) => c.scheme === "turn" && c.transport === "udp";
  const tcp = (c: Candidate) => c.scheme === "turn" && c.transport === "tcp";
  const turnUdp = first(
    (c) => udp(c) && c.port === 3478,
    (c) => udp(c) && c.port === 443,
    udp,
  );
  const turnTcp = first(
    (c) => c.scheme === "turns" && c.port === 443,
    (c) => tcp(c) && c.port === 443,
    (c) => tcp(c) && c.port === 80,
    (c) => c.scheme === "turns",
    tcp,
  );
  const kept = new Set([stun, turnUdp, turnTcp].filter((u): u is string => u !== undefined));
  return servers
    .map((server) => ({ ...server, urls: server.urls.filter((url) => kept.has(url)) }))
    .filter((server) => server.urls.length > 0);
}
