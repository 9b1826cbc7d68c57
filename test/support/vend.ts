// Helpers for the credential-vending tests: test JWTs, a vending key in custody, and vend calls.
import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { expect } from "vitest";
import { USERNAME_INDEX_SHARDS } from "../../src/constants";
import { KeySecrets } from "../../src/storage/key-secrets";
import { call, envelope } from "./api";
import { emulator } from "./emulator";
import { JWT_SECRET, KEY_ENCRYPTION_KEY } from "./fixtures";

export const VEND_PATH = "/v1/ice-servers";
export const REVOKE_PATH = "/v1/credentials/revoke";
export const ACTIVE_KEY_PATH = "/v1/active-key";
export const ISSUER = "turnvend-test";
export const AUDIENCE = "turnvend";

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}
export interface Vended {
  iceServers: IceServer[];
  ttl: number;
  expiresAt: string;
}

/** An HS256 JWT as the app's auth would issue it; override any claim, or drop one with `undefined`. */
export async function userJwt(
  sub: string,
  claims: Record<string, unknown> = {},
  secret: string = JWT_SECRET,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub, iat: now, exp: now + 600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

/**
 * A TURN key that exists upstream and whose secret turnvend holds, made the active key. The key is
 * made "in the dashboard" and its secret put in custody directly, so setup costs no counted upstream call.
 */
export async function activeVendingKey(): Promise<{ uid: string; key: string }> {
  const made = await emulator.createOutOfBand("vending");
  await new KeySecrets(env.TURNVEND_KV, KEY_ENCRYPTION_KEY).store(made.uid, made.key, "test");
  const res = await call(ACTIVE_KEY_PATH, { method: "PUT", body: { key_id: made.uid } });
  expect(res.status).toBe(200);
  return made;
}

/** The username index's shards, as the Worker addresses them (src/vend/deps.ts). */
export function indexShards() {
  const ns = env.USERNAME_INDEX;
  return Array.from({ length: USERNAME_INDEX_SHARDS }, (_, n) => ns.get(ns.idFromName(`usernames-v1-${n}`)));
}

/** Waits until the username index knows `username`: it is written after the answer, and a revoke by username needs it. */
export async function untilIndexed(username: string): Promise<void> {
  const known = async () => (await Promise.all(indexShards().map((s) => s.find(username)))).flat().length > 0;
  for (let i = 0; i < 200 && !(await known()); i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * POST /v1/ice-servers with a bearer token (JWT or caller token). The user's object records the set before
 * the answer; its usernames reach the username index after it, so on success this waits for them, as a
 * later revoke by username would need.
 */
export async function vend(
  token: string | undefined,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const res = await call(VEND_PATH, {
    as: token === undefined ? "none" : { token },
    method: "POST",
    body: opts.body,
    headers: opts.headers,
  });
  if (res.status !== 200) return res;
  const body = (await res.clone().json()) as Vended;
  for (const username of body.iceServers.flatMap((s) => (s.username ? [s.username] : []))) await untilIndexed(username);
  return res;
}

/** A unique subject per test, so one test's user (its object: quota, rate bound, reuse) never carries over. */
export function freshSubject(label = "user"): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** Asserts an error response: status, v4 envelope, error code; returns the envelope. */
export async function expectError(res: Response, status: number, code: number) {
  expect(res.status).toBe(status);
  const body = await envelope(res);
  expect(body.success).toBe(false);
  expect(body.result).toBeNull();
  expect(body.errors[0]?.code).toBe(code);
  return body;
}

/**
 * Calls the Worker's fetch handler directly with a modified environment (JWKS mode, a stub rate
 * limiter, production upstreams), in this isolate so spies on fetch apply.
 */
export async function fetchWith(
  overrides: Partial<Record<keyof Env, unknown>>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const { default: worker } = await import("../../src/index");
  const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://turnvend.test${path}`, init),
    { ...env, ...overrides } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}
