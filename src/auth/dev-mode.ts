import type { Config } from "../config";

/**
 * Local development: both upstreams are on loopback (the emulator). A deployed Worker cannot reach
 * loopback, so nothing gated on this can be switched on in production by configuration alone.
 */
export function isLocalDevelopment(config: Pick<Config, "apiBaseUrl" | "rtcBaseUrl">): boolean {
  return isLoopback(config.apiBaseUrl) && isLoopback(config.rtcBaseUrl);
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
  } catch {
    return false;
  }
}
