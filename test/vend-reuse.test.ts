// The optional per-subject reuse window (CREDENTIAL_REUSE_SECONDS): off by default; when on, a subject
// asking again soon gets the same set with no upstream call. The set is kept by the user's own object
// (src/objects/user-ledger.ts), so every isolate hands out the same one and a revocation is seen by all.
import {
  abortAllDurableObjects,
  createExecutionContext,
  env,
  evictDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { emulator } from "./support/emulator";
import { CALLERS } from "./support/fixtures";
import { indexWithAdd, userObject } from "./support/objects";
import { resetWorld } from "./support/reset";
import {
  activeVendingKey,
  fetchWith,
  freshSubject,
  REVOKE_PATH,
  userJwt,
  VEND_PATH,
  type Vended,
} from "./support/vend";

const GENERATE = "credentials.generate_ice_servers";

beforeEach(async () => {
  await resetWorld();
});

afterEach(() => {
  vi.useRealTimers();
});

/** A JSON POST to the Worker with `token`, its settings overridden (CREDENTIAL_REUSE_SECONDS and the like). */
function postWith(
  overrides: Partial<Record<keyof Env, unknown>>,
  path: string,
  token: string,
  body: unknown,
): Promise<Response> {
  return fetchWith(overrides, path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** A vend for `subject` as the issuer caller, with CREDENTIAL_REUSE_SECONDS set to `reuse`. */
async function vendWith(
  reuse: string,
  subject: string,
  ttl?: number,
  extra: Record<string, unknown> = {},
): Promise<Vended> {
  const res = await postWith({ CREDENTIAL_REUSE_SECONDS: reuse }, VEND_PATH, CALLERS.issuer.token, {
    subject,
    ...(ttl === undefined ? {} : { ttl }),
    ...extra,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Vended;
}

const generateCalls = async () => (await emulator.calls())[GENERATE];
const usernameOf = (v: Vended) => v.iceServers.find((s) => s.username)!.username!;

describe("the reuse window", () => {
  it("is off by default: every vend is a new set and an upstream call", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const a = await vendWith("0", subject);
    const b = await vendWith("0", subject);
    expect(usernameOf(a)).not.toBe(usernameOf(b));
    expect(await generateCalls()).toBe(2);
  });

  it("hands the same set to the same subject within the window, with no upstream call and its own expiry", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const first = await vendWith("300", subject, 600);
    const again = await vendWith("300", subject, 600);
    expect(again.iceServers).toEqual(first.iceServers);
    expect(again.expiresAt).toBe(first.expiresAt);
    expect(again.ttl).toBeLessThanOrEqual(600);
    expect(again.ttl).toBeGreaterThanOrEqual(598);
    expect(await generateCalls()).toBe(1);
  });

  it("never shares a set between subjects, or between different TTLs", async () => {
    await activeVendingKey();
    const alice = await vendWith("300", freshSubject("alice"), 600);
    const bob = await vendWith("300", freshSubject("bob"), 600);
    expect(usernameOf(bob)).not.toBe(usernameOf(alice));
    const carol = freshSubject("carol");
    const short = await vendWith("300", carol, 600);
    const long = await vendWith("300", carol, 1200);
    expect(usernameOf(long)).not.toBe(usernameOf(short));
    expect(await generateCalls()).toBe(4);
  });

  it("is skipped by a client asking for a fresh set, as a refresh before expiry does", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const first = await vendWith("300", subject, 600);
    const refreshed = await vendWith("300", subject, 600, { fresh: true });
    expect(usernameOf(refreshed)).not.toBe(usernameOf(first));
    expect(await generateCalls()).toBe(2);
    // The refreshed set is the one handed out again from now on.
    expect(usernameOf(await vendWith("300", subject, 600))).toBe(usernameOf(refreshed));
  });

  it("never hands an internal caller's set to an end user with the same subject", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const forCaller = await vendWith("300", subject, 3600);
    const res = await postWith({ CREDENTIAL_REUSE_SECONDS: "300" }, VEND_PATH, await userJwt(subject), { ttl: 3600 });
    expect(res.status).toBe(200);
    expect(usernameOf((await res.json()) as Vended)).not.toBe(usernameOf(forCaller));
    expect(await generateCalls()).toBe(2);
  });

  it("ends after the window, and after half the set's lifetime when that comes first", async () => {
    await activeVendingKey();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const subject = freshSubject();
    const first = await vendWith("120", subject, 600);
    vi.advanceTimersByTime(119_000);
    expect(usernameOf(await vendWith("120", subject, 600))).toBe(usernameOf(first));
    vi.advanceTimersByTime(2_000);
    const second = await vendWith("120", subject, 600);
    expect(usernameOf(second)).not.toBe(usernameOf(first));

    // A 60 s credential is handed out again for 30 s at most, whatever the window.
    const brief = await vendWith("3600", subject, 60);
    vi.advanceTimersByTime(29_000);
    expect(usernameOf(await vendWith("3600", subject, 60))).toBe(usernameOf(brief));
    vi.advanceTimersByTime(2_000);
    const after = await vendWith("3600", subject, 60);
    expect(usernameOf(after)).not.toBe(usernameOf(brief));
    expect(after.ttl).toBe(60);
    expect(await generateCalls()).toBe(4);
  });

  it("never hands out a revoked set", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const first = await vendWith("300", subject, 600);
    const revoked = await postWith({ CREDENTIAL_REUSE_SECONDS: "300" }, REVOKE_PATH, CALLERS.revoker.token, {
      subject,
    });
    expect(revoked.status).toBe(200);
    const next = await vendWith("300", subject, 600);
    expect(usernameOf(next)).not.toBe(usernameOf(first));
    expect(await generateCalls()).toBe(2);
  });

  it("never hands out a set revoked by username, even before the username index has its entry", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    // The vend's write to the username index (after its answer) is held until the revoke is done.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { default: worker } = await import("../src/index");
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`http://turnvend.test${VEND_PATH}`, {
        method: "POST",
        headers: { authorization: `Bearer ${CALLERS.issuer.token}`, "content-type": "application/json" },
        body: JSON.stringify({ subject, ttl: 600 }),
      }),
      {
        ...env,
        CREDENTIAL_REUSE_SECONDS: "300",
        USERNAME_INDEX: indexWithAdd(async (add, args) => {
          await gate;
          return add(...args);
        }),
      } as unknown as Env,
      ctx,
    );
    const first = (await res.json()) as Vended;
    const revoked = await postWith({ CREDENTIAL_REUSE_SECONDS: "300" }, REVOKE_PATH, CALLERS.revoker.token, {
      username: usernameOf(first),
    });
    expect(revoked.status).toBe(200);
    release();
    await waitOnExecutionContext(ctx);
    // The late entry met the revocation: withdrawn upstream, never handed out again.
    const { credentials } = (await emulator.state()) as { credentials: { username: string; revoked: boolean }[] };
    expect(credentials.find((c) => c.username === usernameOf(first))?.revoked).toBe(true);
    expect(usernameOf(await vendWith("300", subject, 600))).not.toBe(usernameOf(first));
    expect(await generateCalls()).toBe(2);
  });

  it("never hands out a set whose username-index entry could not be written (it was withdrawn)", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    // fetchWith waits for the work after the answer: the failed index writes and the withdrawal.
    const res = await postWith(
      {
        USERNAME_INDEX: indexWithAdd(() => Promise.reject(new Error("injected index failure"))),
        CREDENTIAL_REUSE_SECONDS: "300",
      },
      VEND_PATH,
      CALLERS.issuer.token,
      { subject, ttl: 600 },
    );
    const first = (await res.json()) as Vended;
    const next = await vendWith("300", subject, 600);
    expect(usernameOf(next)).not.toBe(usernameOf(first));
    expect(await generateCalls()).toBe(2);
  });

  it("still counts every request against the subject's rate limit", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    const answers: number[] = [];
    for (let i = 0; i < 21; i++) {
      const res = await postWith({ CREDENTIAL_REUSE_SECONDS: "300" }, VEND_PATH, CALLERS.issuer.token, {
        subject,
        ttl: 600,
      });
      answers.push(res.status);
      await res.arrayBuffer();
    }
    // CREDENTIAL_REQUESTS_PER_MINUTE allows 20 per rolling minute: one set, reused 19 times, then 429.
    expect(answers).toEqual([...Array(20).fill(200), 429]);
    expect(await generateCalls()).toBe(1);
  });

  it("is one set for every isolate, and a revoke is seen by all of them at once", async () => {
    await activeVendingKey();
    const subject = freshSubject();
    // Two entries with no memory in common: each a fresh instance of the whole Worker module graph
    // (vi.resetModules), so every isolate-level cache (active key, opened secrets, configuration, the JWKS)
    // starts empty. Only the user's Durable Object is shared, as it is between isolates on Cloudflare.
    const { default: isolateA } = await import("../src/index");
    vi.resetModules();
    const { default: isolateB } = await import("../src/index");
    expect(isolateB).not.toBe(isolateA);
    await abortAllDurableObjects();
    const through = async (worker: ExportedHandler<Env>, path: string, token: string, body: unknown) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch!(
        new Request(`http://turnvend.test${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }) as Request<unknown, IncomingRequestCfProperties>,
        { ...env, CREDENTIAL_REUSE_SECONDS: "300" } as Env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(200);
      return res.json();
    };
    const vendIn = async (worker: ExportedHandler<Env>) =>
      usernameOf((await through(worker, VEND_PATH, CALLERS.issuer.token, { subject, ttl: 600 })) as Vended);

    const first = await vendIn(isolateA);
    expect(await vendIn(isolateB)).toBe(first);
    // Not the object's memory either: a fresh instance of the object reads the set from its storage.
    await evictDurableObject(await userObject(subject));
    expect(await vendIn(isolateB)).toBe(first);
    expect(await generateCalls()).toBe(1);

    // Revoked through A; B, which handed the set out a moment ago, never hands it out again.
    expect(await through(isolateA, REVOKE_PATH, CALLERS.revoker.token, { subject })).toMatchObject({
      result: { revoked: 1 },
    });
    const next = await vendIn(isolateB);
    expect(next).not.toBe(first);
    expect(await generateCalls()).toBe(2);
    expect(await vendIn(isolateA)).toBe(next);
  });

  it("is refused above an hour, like any invalid setting", async () => {
    const res = await postWith({ CREDENTIAL_REUSE_SECONDS: "3601" }, VEND_PATH, CALLERS.issuer.token, { subject: "x" });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("CREDENTIAL_REUSE_SECONDS");
    expect(await generateCalls()).toBe(0);
  });
});
