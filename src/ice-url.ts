// ICE server URLs (RFC 7064 stun/stuns, RFC 7065 turn/turns) as turnvend reads them: from Cloudflare's answer,
// and from FALLBACK_TURN_URLS.

/** A parsed ICE URL: the transport is "udp", "tcp", or "tls" (turns:/stuns:). */
export interface IceUrl {
  scheme: string;
  host: string;
  port: number;
  transport: "udp" | "tcp" | "tls";
}

/**
 * Parses `scheme:host[:port][?query]`. These are not hierarchical URLs, so `new URL()` would not find the
 * port. Hosts may be bracketed IPv6. A missing port is the scheme's default; a missing transport is UDP for
 * stun:/turn: and TLS for stuns:/turns:.
 */
export function parseIceUrl(url: string): IceUrl | undefined {
  const match = /^([a-z]+):([^?#]*)(?:\?(.*))?$/i.exec(url.trim());
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
  const secure = scheme === "stuns" || scheme === "turns";
  const port = portText !== undefined ? Number(portText) : secure ? 5349 : 3478;
  if (port < 1 || port > 65_535) return undefined;
  const transportParam = /(?:^|&)transport=([a-z]+)/i.exec(match[3] ?? "")?.[1]?.toLowerCase();
  const transport = secure ? "tls" : transportParam === "tcp" ? "tcp" : "udp";
  return { scheme, host, port, transport };
}
