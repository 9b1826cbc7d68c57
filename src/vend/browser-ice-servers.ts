// What browsers get: an array of { urls: string[], username?, credential? } built field by field from
// the validated upstream answer, without port-53 URLs or anything but STUN/TURN.
import type { IceServer } from "../contract/responses";
import type { UpstreamIceServer } from "../upstream/rtc-api";

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

/**
 * Parses `scheme:host[:port][?query]` (RFC 7064/7065). These are not hierarchical URLs, so `new URL()`
 * would not find the port. Hosts may be bracketed IPv6. A missing port is the scheme's default.
 */
export function parseIceUrl(url: string): { scheme: string; host: string; port: number } | undefined {
  const match = /^([a-z]+):([^?#]*)(?:\?.*)?$/i.exec(url.trim());
  if (!match) return undefined;
  const scheme = match[1].toLowerCase();
  const hostPort = match[2];
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    if (end < 0) return undefined;
    host = hostPort.slice(0, end + 1);
    const rest = hostPort.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    portText = rest ? rest.slice(1) : undefined;
  } else {
    const colon = hostPort.lastIndexOf(":");
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
  }
  if (host === "" || host.includes("/") || host.includes("@")) return undefined;
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) return undefined;
  const port = portText !== undefined ? Number(portText) : scheme === "stuns" || scheme === "turns" ? 5349 : 3478;
  if (port < 1 || port > 65_535) return undefined;
  return { scheme, host, port };
}
