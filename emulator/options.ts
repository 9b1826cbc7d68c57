/** Options of the emulator, all optional; defaults make `node emulator/server.ts` usable with no setup. */
export type EmulatorOptions = {
  /** The only account id the v4 routes accept. */
  accountId?: string | undefined;
  /** The account API token the v4 routes accept as `Authorization: Bearer ...`. */
  apiToken?: string | undefined;
  /** A second token the GraphQL route accepts (an "Account Analytics Read" token); the API token works too. */
  analyticsToken?: string | undefined;
  /** coturn's `static-auth-secret`: credentials are HMAC-SHA1 signed with it so a local coturn accepts them. */
  turnSecret?: string | undefined;
  /** ICE urls handed out with every credential; `stun:` ones go in their own entry without username/credential. */
  turnUrls?: string[] | undefined;
};

export type ResolvedOptions = {
  accountId: string;
  apiToken: string;
  analyticsToken: string | undefined;
  turnSecret: string;
  turnUrls: string[];
};

// Cloudflare's documented example account id: a realistic 32-hex value that is obviously not a real account.
export const DEFAULT_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353";
export const DEFAULT_API_TOKEN = "dev-account-token";
export const DEFAULT_TURN_SECRET = "dev-turn-secret";

// Mirrors what Cloudflare hands out, port 53 included on purpose: the worker must filter it out for browsers.
export const DEFAULT_TURN_URLS: readonly string[] = [
  "stun:stun.cloudflare.com:3478",
  "stun:stun.cloudflare.com:53",
  "turn:turn.cloudflare.com:3478?transport=udp",
  "turn:turn.cloudflare.com:53?transport=udp",
  "turn:turn.cloudflare.com:3478?transport=tcp",
  "turns:turn.cloudflare.com:5349?transport=tcp",
  "turns:turn.cloudflare.com:443?transport=tcp",
];

export function resolveOptions(opts: EmulatorOptions = {}): ResolvedOptions {
  return {
    accountId: opts.accountId ?? DEFAULT_ACCOUNT_ID,
    apiToken: opts.apiToken ?? DEFAULT_API_TOKEN,
    analyticsToken: opts.analyticsToken,
    turnSecret: opts.turnSecret ?? DEFAULT_TURN_SECRET,
    // Copied so a caller mutating its array later cannot change what the emulator serves.
    turnUrls: [...(opts.turnUrls ?? DEFAULT_TURN_URLS)],
  };
}
