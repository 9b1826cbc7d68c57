#!/usr/bin/env node
// Prints an end-user JWT for local development, signed the way turnvend's local defaults expect:
//   npm run dev:jwt -- --sub alice [--ttl 600]
// HS256 with JWT_HS256_SECRET (default dev-jwt-secret), iss JWT_ISSUER (default turnvend-dev),
// aud JWT_AUDIENCE (default turnvend), living at most JWT_MAX_LIFETIME_SECONDS (default 86400).
// Never use these defaults outside your machine.
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { readDevVars } from "./dev-vars.mjs";

const USAGE = "usage: npm run dev:jwt -- --sub <subject> [--ttl <seconds, 1..JWT_MAX_LIFETIME_SECONDS (86400)>]";
/** Matches turnvend's own limit on subjects. */
const SUBJECT_MAX_LENGTH = 256;
/** turnvend's plain-text rule for subjects (src/contract/text.ts): no control characters, no lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's job.
const NOT_PLAIN_TEXT = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
// The settings `npm start` gives the Worker: .dev.vars over the local defaults, and the environment over both.
const devVars = readDevVars(new URL("..", import.meta.url).pathname)?.values ?? {};
const setting = (name, fallback) => process.env[name] || devVars[name] || fallback;
/** A dev token lives ten minutes unless asked otherwise, and never longer than turnvend accepts a JWT to live. */
const TTL_MAX_SECONDS = Number(setting("JWT_MAX_LIFETIME_SECONDS", "")) || 86_400;
const TTL_DEFAULT_SECONDS = Math.min(600, TTL_MAX_SECONDS);

function fail(message) {
  console.error(message);
  console.error(USAGE);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: { sub: { type: "string" }, ttl: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  }));
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const sub = values.sub;
if (!sub || sub.length > SUBJECT_MAX_LENGTH || NOT_PLAIN_TEXT.test(sub))
  fail(`--sub is required (1 to ${SUBJECT_MAX_LENGTH} characters, no control characters)`);
const ttl = values.ttl === undefined ? TTL_DEFAULT_SECONDS : Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MAX_SECONDS)
  fail(`--ttl must be a whole number of seconds in [1, ${TTL_MAX_SECONDS}]`);

const secret = setting("JWT_HS256_SECRET", "dev-jwt-secret");
const issuer = setting("JWT_ISSUER", "turnvend-dev");
const audience = setting("JWT_AUDIENCE", "turnvend");

const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({})
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject(sub)
  .setIssuedAt(now)
  .setExpirationTime(now + ttl)
  .sign(new TextEncoder().encode(secret));
console.log(token);
