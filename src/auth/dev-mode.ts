import { isLocalUpstream, type Config } from "../config";

/**
 * Local development: both upstreams are on loopback (the emulator). A deployed Worker cannot reach
 * loopback, so nothing gated on this can be switched on in production by configuration alone. The
 * configuration applies the same rule to the published dev defaults.
 */
export function isLocalDevelopment(config: Pick<Config, "apiBaseUrl" | "rtcBaseUrl">): boolean {
  return isLocalUpstream(config.apiBaseUrl, config.rtcBaseUrl);
}
