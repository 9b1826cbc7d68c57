// Named limits. Each carries its unit and the reason for its value.

/** Cloudflare's own cap on a TURN credential's lifetime (docs/cloudflare-upstream.md#credential-lifetime). */
export const CREDENTIAL_TTL_CAP_SECONDS = 172_800;
/** The lifetime a credential gets when the client asks for none and CREDENTIAL_TTL_DEFAULT_SECONDS is unset. */
export const CREDENTIAL_TTL_DEFAULT_SECONDS = 3_600;
/** Below a minute a credential expires before a slow ICE negotiation finishes. */
export const CREDENTIAL_TTL_MIN_SECONDS = 60;

/** A TURN key's bearer secret is 64 characters (docs/cloudflare-upstream.md#key-ids-and-secrets). */
export const KEY_SECRET_LENGTH = 64;

/**
 * customIdentifier of the one credential an adoption mints to prove a secret. Fixed, and unlike any subject
 * hash (32 hex), so usage analytics can tell turnvend's own probes from users and filter them out.
 */
export const ADOPTION_PROBE_IDENTIFIER = "turnvend-adoption-check";
/** Upstream attempts one adoption may make: the key's get, the probe and its revocation, and two retries. */
export const ADOPTION_ATTEMPT_BUDGET = 5;

/** Longest key name accepted. Cloudflare documents none; 200 keeps a key index of 1,000 keys small. */
export const KEY_NAME_MAX_LENGTH = 200;
/** Largest JSON body accepted on any route. Every valid body is far smaller. */
export const BODY_MAX_BYTES = 16 * 1024;

/** Every upstream call is abandoned after this long, so no request can hang on Cloudflare. */
export const UPSTREAM_TIMEOUT_MS = 10_000;

// --- Credential vending ---

/** Leeway for exp/nbf on end-user JWTs: absorbs clock skew between the app's auth server and the edge. */
export const JWT_CLOCK_TOLERANCE_SECONDS = 30;
/** Longest end-user JWT accepted (characters). Real ones are 1 to 2 KB; a far larger one is refused unparsed. */
export const JWT_MAX_LENGTH = 8_192;
/**
 * Longest lifetime (iat, or now without iat, to exp) an end-user JWT may have when JWT_MAX_LIFETIME_SECONDS is
 * unset: a day, so a leaked token is not a standing credential (exp: 1e308 would never end).
 */
export const JWT_MAX_LIFETIME_DEFAULT_SECONDS = 86_400;
/** The range JWT_MAX_LIFETIME_SECONDS may set: a token must outlive its round trip; 30 days is longer than any API token should live. */
export const JWT_MAX_LIFETIME_MIN_SECONDS = 60;
export const JWT_MAX_LIFETIME_MAX_SECONDS = 2_592_000;
/** Give up on the app's JWKS endpoint after this long; a slow identity provider must not hang vending. */
export const JWKS_TIMEOUT_MS = 5_000;
/** How long a fetched JWKS is trusted per isolate before it is fetched again (10 minutes). */
export const JWKS_CACHE_MAX_AGE_MS = 600_000;
/** An unknown `kid` refetches the JWKS at most this often, so forged kids cannot hammer the provider. */
export const JWKS_COOLDOWN_MS = 30_000;
/**
 * While the identity provider fails, a key set fetched within this long keeps verifying tokens: an outage of
 * the provider's JWKS endpoint does not become an outage of vending. Past it, 503.
 */
export const JWKS_MAX_STALE_MS = 3_600_000;

/** Longest subject accepted (JWT `sub` or an internal caller's `subject`); real ids are far shorter. */
export const SUBJECT_MAX_LENGTH = 256;
/** customIdentifier is the HMAC-SHA256 of the subject cut to 128 bits: unlinkable to the person, collision-free in practice. */
export const SUBJECT_HASH_HEX_LENGTH = 32;
/** Longest upstream credential username turnvend records: it becomes part of a KV key (512-byte limit). */
export const CREDENTIAL_USERNAME_MAX_LENGTH = 256;

/** The `period` of the VEND_IP_LIMITER binding in wrangler.toml; its 429 asks the client to wait this long. */
export const VEND_RATE_LIMIT_PERIOD_SECONDS = 60;

// --- Each user's own Durable Object (src/objects/user-ledger.ts) ---

/**
 * CREDENTIAL_SETS_PER_DAY when unset. A user in calls all day with the default 1-hour TTL refreshes about
 * 24 times; with page reloads and reconnects a heavy day stays under 50. 100 leaves that twice over, and
 * holds a leaked token to 100 sets a day instead of the 28,800 the per-minute bound alone would allow.
 */
export const CREDENTIAL_SETS_PER_DAY_DEFAULT = 100;
/** Highest CREDENTIAL_SETS_PER_DAY accepted; 0 turns the quota off. */
export const CREDENTIAL_SETS_PER_DAY_MAX = 100_000;
/** The quota counts credential sets issued within this rolling window (24 hours). */
export const QUOTA_WINDOW_MS = 86_400_000;
/** CREDENTIAL_REQUESTS_PER_MINUTE when unset: the bound the per-user Rate Limiting binding had. */
export const CREDENTIAL_REQUESTS_PER_MINUTE_DEFAULT = 20;
/** Highest CREDENTIAL_REQUESTS_PER_MINUTE accepted; 0 turns the bound off. */
export const CREDENTIAL_REQUESTS_PER_MINUTE_MAX = 10_000;
/** The per-user request bound counts requests within this rolling window (one minute). */
export const USER_RATE_WINDOW_MS = 60_000;
/**
 * Credential sets one ledger row (a page) holds before the next vend starts a new one. Each vend rewrites the
 * newest page (one row written whatever its size), so pages stay small (~32 × 300 bytes) while a user who
 * vends a lot still costs the pruning alarm one delete per 32 sets.
 */
export const LEDGER_PAGE_MAX_SETS = 32;
/**
 * The pruning alarm runs this long after the first page can go. Each run and each setAlarm is billed (a
 * request, a row written): with a day's slack a user's last vends of an episode all die before it runs, so
 * one alarm prunes them, and a user active every day costs one run every other day rather than one a day.
 */
export const LEDGER_PRUNE_SLACK_MS = 86_400_000;

// --- The username index (src/objects/username-index.ts) ---

/**
 * Objects the username index is spread over. One takes every fresh vend's entry: about 1,000 requests a
 * second, far above Cloudflare's advice to start TURN issuance at 500 credentials a second, and one busy
 * object batches best. Lookups ask every shard, so raising it is safe; lowering it loses entries for 48 h.
 */
export const USERNAME_INDEX_SHARDS = 1;
/** The index writes at most one SQLite row per interval, with every entry that arrived meanwhile. */
export const USERNAME_INDEX_FLUSH_INTERVAL_MS = 1_000;
/** An index row takes entries until its text reaches this size, then a new row starts (SQLite rows cap at 2 MB). */
export const USERNAME_INDEX_ROW_MAX_CHARS = 256 * 1024;
/** The index's pruning alarm runs this often while it holds rows. */
export const USERNAME_INDEX_PRUNE_INTERVAL_MS = 3_600_000;
/**
 * How long a revocation of a username the index does not know yet is remembered, so that its entry,
 * still on its way from the vend that issued it, is withdrawn when it arrives. The entry is written within
 * the vend's waitUntil, which ends 30 s after the answer at most.
 */
export const USERNAME_TOMBSTONE_MS = 300_000;
/** Attempts to write a vend's usernames to the index before its credentials are withdrawn instead. */
export const USERNAME_INDEX_WRITE_ATTEMPTS = 3;

/** How long browsers may cache a preflight answer. Chrome caps it at 7,200 s; 10 minutes keeps config changes quick to apply. */
export const CORS_MAX_AGE_SECONDS = 600;

/** Revocation calls upstream at most this many at once: a Worker may hold six outgoing connections. */
export const REVOKE_CONCURRENCY = 6;
/** Most credentials one revoke request handles: with retries it stays well below the Workers limit of 1,000 subrequests. */
export const REVOKE_MAX_PER_REQUEST = 200;
/** Upstream attempts a revoke request may make: one per credential plus one retry each. */
export const REVOKE_ATTEMPT_BUDGET = 2 * REVOKE_MAX_PER_REQUEST;
/** Time a revoke request may spend upstream: 200 credentials, six at a time, fit easily. */
export const REVOKE_DEADLINE_MS = 25_000;

/** Lifetime of a dev JWT minted by GET /v1/dev/jwt when none is asked for (10 minutes), and the most allowed (1 hour). */
export const DEV_JWT_TTL_DEFAULT_SECONDS = 600;
export const DEV_JWT_TTL_MAX_SECONDS = 3_600;

/** Most upstream attempts one incoming request may make, retries included (Workers cap subrequests). */
export const UPSTREAM_ATTEMPT_BUDGET = 6;
/** Total time one incoming request may spend on upstream calls, retries and backoff included. */
export const UPSTREAM_DEADLINE_MS = 20_000;
/** Attempts for an idempotent upstream call (GET, credential generation): one try plus two retries. */
export const UPSTREAM_IDEMPOTENT_ATTEMPTS = 3;
/** First retry waits about this long; each further retry doubles it, with ±50 % jitter. */
export const UPSTREAM_BACKOFF_BASE_MS = 100;

/** Cloudflare blocks every call for 5 minutes after a 429; used when Retry-After is absent (docs/cloudflare-upstream.md#api-rate-limit). */
export const RATE_LIMIT_DEFAULT_RETRY_AFTER_SECONDS = 300;
/**
 * The longest upstream Retry-After turnvend believes: twelve times the documented block. A longer one (a proxy's
 * mistake, say) would otherwise stop every admin call, and tell every client to wait, for as long as it said.
 */
export const RATE_LIMIT_MAX_RETRY_AFTER_SECONDS = 3_600;
/** KV's smallest expirationTtl. */
export const KV_MIN_TTL_SECONDS = 60;

/** How long an Idempotency-Key is remembered per caller. */
export const IDEMPOTENCY_TTL_SECONDS = 86_400;
/** A create still "in flight" after this long is treated as having an unknown outcome. */
export const IDEMPOTENCY_IN_FLIGHT_SECONDS = 60;
/** Attempts to store a fresh key's secret before giving the key up (compensation). */
export const SECRET_STORE_ATTEMPTS = 3;

/** Attempts to delete a key whose secret could not be stored, so none is left that turnvend cannot vend with. */
export const COMPENSATION_DELETE_ATTEMPTS = 3;

/** Reconciliation leaves a secret without an upstream key alone this long: its create may be in flight. */
export const ORPHAN_SECRET_GRACE_SECONDS = 600;

/** Audit events per page of GET /v1/audit: default and most. */
export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 100;
/**
 * Refused audit events are kept to one KV entry per caller, action and minute: a refusal costs the caller
 * nothing, while each entry is a KV write (the budget the ledger needs) kept AUDIT_RETENTION_DAYS.
 */
export const AUDIT_REFUSAL_WINDOW_MS = 60_000;

/** The `period` of the KEYS_REFRESH_LIMITER binding in wrangler.toml; a refused refresh asks to wait this long. */
export const KEYS_REFRESH_PERIOD_SECONDS = 60;
/** How long an isolate remembers that Cloudflare has no key with some id, so repeats cost no upstream call. */
export const MISSING_KEY_MEMORY_MS = 60_000;
/** Unknown key ids one isolate remembers; the oldest are dropped first. */
export const MISSING_KEY_MAX_ENTRIES = 1_000;

/** How long an isolate reuses its in-memory copy of the key index before reading KV again. */
export const INDEX_MEMORY_MS = 5_000;

/**
 * Longest time spent reading one request body. A valid body (at most BODY_MAX_BYTES) arrives in well under a
 * second; a client dripping bytes must not hold the Worker (and its CPU-idle wall time) open indefinitely.
 */
export const BODY_READ_TIMEOUT_MS = 10_000;

/**
 * How long an isolate reuses the vending key's id and opened secret. Bounds how late another isolate
 * notices a new active key; rotation waits far longer than this anyway (README, "Rotating the key").
 */
export const VENDING_KEY_MEMORY_MS = 30_000;

/** Retry-After on a 5xx that names no wait of its own: long enough for a transient fault to pass. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** Orphaned secrets reconciliation confirms and destroys per run (one upstream get each). */
export const ORPHAN_SECRETS_PER_RUN = 20;
/** Upstream attempts a reconciliation run may make: one list plus one get per orphan, with room for retries. */
export const RECONCILE_ATTEMPT_BUDGET = 40;
/** Time a reconciliation run may spend upstream. */
export const RECONCILE_DEADLINE_MS = 60_000;

/** Shortest HS256 secret accepted outside local development: the hash's own length (RFC 7518 §3.2). */
export const HS256_SECRET_MIN_BYTES = 32;

/** Longest reuse window CREDENTIAL_REUSE_SECONDS may set (seconds); 0, the default, turns reuse off. */
export const CREDENTIAL_REUSE_MAX_SECONDS = 3_600;
// --- The account object (src/objects/account-state.ts) ---

/** The account object's name: one object holds the control state of the one account turnvend manages. */
export const ACCOUNT_OBJECT_NAME = "account";
/** Cloudflare's v4 limit per token (docs/cloudflare-upstream.md#api-rate-limit); V4_BUDGET_PER_5_MIN may not exceed it. */
export const V4_LIMIT_PER_5_MIN = 1_200;
/** turnvend's own budget of v4 calls in any 5 minutes when V4_BUDGET_PER_5_MIN is unset: three quarters of the limit. */
export const V4_BUDGET_DEFAULT_PER_5_MIN = 900;
/** Calls of the budget kept for writes when V4_WRITE_RESERVE is unset. */
export const V4_WRITE_RESERVE_DEFAULT = 50;
/** The window Cloudflare counts its limit over. */
export const V4_WINDOW_MS = 300_000;
/**
 * The bucket holds at most this share of the budget at once (the burst); the rest refills over the window,
 * so no 5 minutes ever see more calls than the budget.
 */
export const V4_BURST_SHARE = 0.25;
/** Tokens one isolate takes from the account object at a time for reads: one read with its two retries. */
export const V4_READ_LEASE_TOKENS = 3;
/** A leased token unspent after this long is dropped, so every call lands within the window it was granted in. */
export const V4_LEASE_TTL_MS = 10_000;
/** How long /healthz reuses this isolate's last view of the budget, so monitors polling it cost no object request. */
export const V4_BUDGET_VIEW_MEMORY_MS = 5_000;
/**
 * Creates waiting behind the one in flight. Each holds a Worker request open; past this many, a create gets
 * 503 with Retry-After instead of queueing.
 */
export const CREATE_QUEUE_MAX = 16;
/**
 * Upstream attempts one create may make in the account object: the list before it (with retries), the create,
 * the list that settles a lost answer, and deleting what it left.
 */
export const CREATE_ATTEMPT_BUDGET = 12;
/** Time one create may spend upstream, all of those calls included. */
export const CREATE_DEADLINE_MS = 30_000;
/** Longest a queued create waits for its turn before it gives up (503, nothing started). */
export const CREATE_QUEUE_WAIT_MS = 25_000;
/**
 * When a create's answer was lost, a new key whose `created` time is further than this from the attempt is not
 * taken for its key: a margin for the clocks of Cloudflare and the object, and for the upstream timeout.
 */
export const CREATE_MATCH_WINDOW_MS = 300_000;
/**
 * When the account object cannot be reached, an isolate keeps vending with the active key it last read for up
 * to this long (it normally rereads it every VENDING_KEY_MEMORY_MS). Past it, vending answers 503.
 */
export const VENDING_KEY_STALE_MS = 300_000;
/**
 * Longest a vend waits on the account object for a state it already remembers or can do without: the guard
 * state (remembered, or open when never read) and the vending key (when one is remembered). The object answers
 * in milliseconds when healthy; a slow or stuck one must not eat the vend's deadline
 * (VEND_UPSTREAM_DEADLINE_MS, 1.5 s by default), which is meant for Cloudflare. The read goes on in the
 * background and its answer is remembered when it comes.
 */
export const ACCOUNT_READ_ON_VEND_TIMEOUT_MS = 250;
/**
 * Longest a vend on a cold isolate (no vending key remembered) waits for the account object to name the key.
 * A healthy object answers in milliseconds, a newly started one within a few hundred; past this the vend
 * answers 503 with Retry-After (or, with a fallback provider, goes on without Cloudflare) instead of hanging.
 * The read goes on, and this isolate remembers its answer, so a retry after Retry-After finds the key at once.
 */
export const ACCOUNT_READ_COLD_TIMEOUT_MS = 1_000;
/** Retry-After when the account object cannot be reached: objects restart within seconds (a deploy, an eviction). */
export const ACCOUNT_STATE_RETRY_AFTER_SECONDS = 2;

// --- Protecting the bill (README, "Protecting the bill") ---

/** Bytes in one GB as Cloudflare bills TURN egress (decimal: 10^9). */
export const BYTES_PER_GB = 1_000_000_000;
/** Rows one GraphQL node answers at most: Cloudflare's cap on `limit`. A page this full may be truncated. */
export const ANALYTICS_PAGE_LIMIT = 10_000;
/** Upstream attempts of one usage run (two queries, with retries). */
export const ANALYTICS_ATTEMPT_BUDGET = 6;
/** Longest one usage run may spend on GraphQL: well inside the 5 minutes before the next run. */
export const ANALYTICS_DEADLINE_MS = 60_000;
/** Per-user hourly rows kept: the rolling 24 hours, the hour now and the baseline before it (25 h), plus one. */
export const USAGE_USER_HOURS_KEPT = 26;
/** Account hourly rows kept: this month and the last (the page's chart, a month's projection). */
export const USAGE_ACCOUNT_DAYS_KEPT = 62;
/** Users listed in /v1/usage `top_users`. */
export const USAGE_TOP_USERS = 10;
/** Blocked users listed in /v1/usage `blocked_users`. */
export const USAGE_BLOCKED_LISTED = 100;
/**
 * Leak detection: a user's egress this hour is "far above their normal" when it is more than LEAK_FACTOR
 * times their mean hourly egress over the 24 hours before it, and above LEAK_FLOOR_BYTES_PER_HOUR. The
 * floor (5 GB in an hour, a sustained ~11 Mbit/s, several times one HD call through a relay) keeps new users
 * (no normal yet) and light users (a 10x jump from almost nothing) from being flagged.
 */
export const LEAK_FACTOR = 10;
export const LEAK_FLOOR_BYTES_PER_HOUR = 5 * 1_000_000_000;
/**
 * How long an isolate trusts the account's guard state (kill switch, account budget) before asking the account
 * object again: a vend reads it from memory, and an isolate asks at most once per this long. The kill switch
 * takes effect at once in the isolate that set it and within this everywhere else.
 */
export const GUARD_MEMORY_MS = 15_000;
/** Longest PUT /v1/guard may lift an account stop for: a month, so a lift is never forgotten for good. */
export const GUARD_LIFT_MAX_SECONDS = 31 * 86_400;
/** Retry-After of a vend refused while the account is stopped: the cron's period, when the state can change. */
export const GUARD_RETRY_AFTER_SECONDS = 300;
/** Retry-After of a vend refused for a suspected leak, which only an operator clears: the hint to check back. */
export const LEAK_BLOCK_RETRY_AFTER_SECONDS = 3_600;
/**
 * The alerts' dead-letter queue, as wrangler.toml names it: its consumer records what it holds
 * (src/jobs/dead-alerts.ts) where the ALERTS queue's consumer delivers.
 */
export const ALERTS_DEAD_LETTER_QUEUE = "turnvend-alerts-dlq";
/** Longest one alert delivery waits for the receiver. */
export const ALERT_DELIVERY_TIMEOUT_MS = 10_000;
/** Messages one Queue `sendBatch()` takes at most (docs/cloudflare-upstream.md, "Queues"); more fail the whole send. */
export const QUEUE_SEND_BATCH_MAX = 100;
// --- When Cloudflare's credential API fails (README, "When Cloudflare's TURN API fails") ---

/**
 * VEND_UPSTREAM_DEADLINE_MS when unset: how long a vend waits for Cloudflare's credential API before it fails
 * over. The emulator answers in a few ms and Cloudflare's API from a Worker in tens to low hundreds of ms, so a
 * healthy call never comes near it; a user clicking "join" notices a wait of about 2 s, and ICE gathering still
 * has to follow. 1.5 s leaves a healthy p99 several times over and keeps a hung API's cost under that 2 s.
 */
export const VEND_UPSTREAM_DEADLINE_MS_DEFAULT = 1_500;
/**
 * The least a vend gives Cloudflare, even when checking the token and admitting the vend used up its deadline
 * (a cold JWKS fetch, say): a healthy call fits in it, and a vend never skips Cloudflare for being slow itself.
 */
export const VEND_DEADLINE_FLOOR_MS = 200;
/**
 * How long past the vend's deadline the Worker still waits for the user's object to answer: the object's own
 * start, the fallback set and the record fit in it many times over. Past it the vend answers 503 with
 * Retry-After rather than hang on a stuck object; a set the object still records is in its ledger, revocable by subject.
 */
export const USER_OBJECT_GRACE_MS = 2_000;
/**
 * The end of VEND_UPSTREAM_DEADLINE_MS kept for the failover itself: turnvend stops waiting for Cloudflare this
 * long before the deadline, so minting the fallback set, recording it and answering land near the deadline,
 * not after it (measured locally: 10 to 60 ms for one vend, more when several fail over at once).
 */
export const VEND_FAILOVER_RESERVE_MS = 50;
/** The range VEND_UPSTREAM_DEADLINE_MS may set; it never exceeds the 10 s admin timeout's order. */
export const VEND_UPSTREAM_DEADLINE_MS_MIN = 100;
export const VEND_UPSTREAM_DEADLINE_MS_MAX = 10_000;
/**
 * FALLBACK_TTL_MAX_SECONDS when unset: a self-hosted credential cannot be revoked (the TURN REST scheme has no
 * revocation list), so its lifetime is its only bound. An hour matches the default credential TTL.
 */
export const FALLBACK_TTL_MAX_SECONDS_DEFAULT = 3_600;
/**
 * Consecutive failed credential calls (in one isolate) that open the breaker: three in a row is a pattern, not
 * a blip, and costs at most three deadlines of slow vends before the rest skip Cloudflare.
 */
export const VEND_BREAKER_FAILURES = 3;
/**
 * How long an open breaker sends vends straight to the fallback before one vend probes Cloudflare again. Short,
 * so calls get Cloudflare's TURN back within half a minute of its recovery; one probe per isolate per 30 s is
 * nothing next to the vends it spares a deadline.
 */
export const VEND_BREAKER_OPEN_MS = 30_000;
/**
 * The key id a self-hosted set is recorded under in the user's ledger: not a Cloudflare key id (32 hex), so
 * revocation knows it has nothing upstream to call.
 */
export const SELF_HOSTED_KEY_ID = "self-hosted";
/**
 * The STUN server a STUN-only answer (VEND_FAIL_OPEN=stun) lists when FALLBACK_TURN_URLS names none: Cloudflare's
 * public STUN server, which needs no credential and costs nothing (docs/cloudflare-upstream.md#ice-server-urls).
 */
export const PUBLIC_STUN_URL = "stun:stun.cloudflare.com:3478";
/** Shortest shared secret accepted for FALLBACK_TURN_SECRET outside local runs: 128 bits as text. */
export const FALLBACK_SECRET_MIN_BYTES = 16;
