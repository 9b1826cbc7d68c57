// End to end when Cloudflare's credential API fails (README, "When Cloudflare's TURN API fails"): a local
// coturn is the self-hosted provider (use-auth-secret, the same static-auth-secret turnvend signs with), the
// emulator's credential API is faulted, and Debian's Chromium and turnutils_uclient show whether the answer
// still gets a relay. Three turnvends share the coturn and the browser: failover, both, and cloudflare with
// VEND_FAIL_OPEN=stun and no fallback at all.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEV_CALLER_TOKEN } from "../../scripts/dev-defaults.mjs";
import { startEnvironment } from "./support/environment.mjs";
import { descendants, stopAndCollectLeftovers } from "./support/exit-guard.mjs";
import { gatherRelayInPage, vendInPage } from "./support/in-page.mjs";
import { turnRestCredential } from "./support/turn-rest.mjs";
import { uclientAllocate } from "./support/uclient.mjs";

/** ICE gathering over loopback finishes in well under a second; this only bounds a hung browser. */
const GATHER_TIMEOUT_MS = 10_000;
const VEND_TTL_SECONDS = 60;
/** VEND_UPSTREAM_DEADLINE_MS's default, which these stacks keep. */
const DEADLINE_MS = 1_500;
/** What a vend may add to the deadline: the Worker, the user's object and loopback, on a shared machine. */
const MARGIN_MS = 500;
const GENERATE = "credentials.generate_ice_servers";

const fallbackOf = ({ turnUrls, turnSecret }) => ({
  FALLBACK_TURN_URLS: turnUrls.join(","),
  FALLBACK_TURN_SECRET: turnSecret,
});

let env;
/** The failover stack is env itself; these are the others. */
let both;
let failOpen;
let page;

before(
  async () => {
    env = await startEnvironment({ workerEnv: (c) => ({ TURN_PROVIDER_MODE: "failover", ...fallbackOf(c) }) });
    // One at a time: two `wrangler dev` starting at once contend for the same local resources.
    both = await env.addStack((c) => ({ TURN_PROVIDER_MODE: "both", ...fallbackOf(c) }));
    failOpen = await env.addStack({ VEND_FAIL_OPEN: "stun" });
  },
  { timeout: 240_000 },
);

after(async () => {
  const left = await stopAndCollectLeftovers(descendants(), async () => {
    if (env) await env.stop();
  });
  assert.deepEqual(left, [], `processes still running after cleanup: ${left.join(", ")}`);
});

async function emulatorControl(emulatorUrl, path, init) {
  const res = await fetch(`${emulatorUrl}/__emulator/${path}`, init);
  assert.ok(res.ok, `emulator ${path}: ${res.status}`);
  return res.json();
}

/** Every credential call of that emulator fails with `fault` (e.g. status 503, or hang) until cleared. */
const faultCredentials = (emulatorUrl, fault) =>
  emulatorControl(emulatorUrl, "faults", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ route: GENERATE, count: -1, ...fault }),
  });
const clearFaults = (emulatorUrl) => emulatorControl(emulatorUrl, "faults", { method: "DELETE" });
const generateCalls = async (emulatorUrl) => (await emulatorControl(emulatorUrl, "calls"))[GENERATE];

/** POST /v1/ice-servers as the dev caller for `subject`; resolves { status, body, ms }. */
async function vendAsCaller(workerUrl, subject) {
  const started = Date.now();
  const res = await fetch(`${workerUrl}/v1/ice-servers`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_CALLER_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ subject, ttl: VEND_TTL_SECONDS }),
  });
  const body = await res.json();
  return { status: res.status, body, ms: Date.now() - started };
}

async function gatherAt(workerUrl, iceServers) {
  // A document at turnvend's origin with no script of its own; API answers' CSP would stop the test's code.
  page = await env.browser.newPage({ bypassCSP: true });
  await page.goto(`${workerUrl}/healthz`);
  return page.evaluate(gatherRelayInPage, { iceServers, timeoutMs: GATHER_TIMEOUT_MS });
}

async function closePage() {
  await page?.close();
  page = undefined;
}

const relays = (gathered) => gathered.candidates.filter((c) => c.type === "relay");
const turnEntries = (body) => body.iceServers.filter((s) => s.username);
/** A self-hosted username: "<unix expiry>:<24 hex>" (the emulator's ids are 16 hex). */
const isSelfHosted = (username) => /^\d+:[0-9a-f]{24}$/.test(username);

function coturnAllocated(username) {
  return env.coturn
    .log()
    .split("\n")
    .some((line) => line.includes(`user <${username}>`) && /ALLOCATE processed, success/.test(line));
}

/** The one self-hosted TURN entry, checked to be signed the way coturn verifies (node:crypto, not turnvend's code). */
function selfHostedEntry(body) {
  const entries = turnEntries(body).filter((s) => isSelfHosted(s.username));
  assert.equal(entries.length, 1, `expected one self-hosted entry: ${JSON.stringify(body.iceServers)}`);
  const [entry] = entries;
  assert.deepEqual(entry.urls, env.turnUrls);
  assert.equal(entry.credential, turnRestCredential(env.turnSecret, entry.username));
  return entry;
}

describe("failover: the emulator's credential API fails, coturn (the self-hosted provider) relays", () => {
  test("it hangs: the answer comes within the deadline plus a small margin, self-hosted and degraded, and a relay is gathered", async (t) => {
    t.after(closePage);
    t.after(() => clearFaults(env.emulatorUrl));
    await faultCredentials(env.emulatorUrl, { hang: true });
    const vended = await vendAsCaller(env.workerUrl, "e2e-hang");
    assert.equal(vended.status, 200, JSON.stringify(vended.body));
    assert.equal(vended.body.provider, "self-hosted");
    assert.equal(vended.body.degraded, true);
    // It waits until the deadline less the 50 ms kept for the failover (VEND_FAILOVER_RESERVE_MS).
    assert.ok(vended.ms >= DEADLINE_MS - 100, `answered in ${vended.ms} ms: before the deadline, so it never waited`);
    assert.ok(
      vended.ms < DEADLINE_MS + MARGIN_MS,
      `answered in ${vended.ms} ms, past ${DEADLINE_MS} + ${MARGIN_MS} ms`,
    );
    assert.ok((await generateCalls(env.emulatorUrl)) >= 1, "Cloudflare (the emulator) was never asked");
    const turn = selfHostedEntry(vended.body);
    const gathered = await gatherAt(env.workerUrl, vended.body.iceServers);
    assert.ok(relays(gathered).length >= 1, `no relay candidate: ${JSON.stringify(gathered)}`);
    assert.ok(coturnAllocated(turn.username), "coturn's log shows no ALLOCATE for the self-hosted username");
    t.diagnostic(`answer after ${vended.ms} ms (deadline ${DEADLINE_MS} ms)`);
  });

  test("503 on every credential call: the browser's helper gets 200, provider self-hosted, degraded, and Chromium gathers a relay through coturn", async (t) => {
    t.after(closePage);
    t.after(() => clearFaults(env.emulatorUrl));
    await faultCredentials(env.emulatorUrl, { status: 503 });
    page = await env.browser.newPage({ bypassCSP: true });
    await page.goto(`${env.workerUrl}/healthz`);
    const vended = await page.evaluate(vendInPage, { base: env.workerUrl, devSub: "e2e-503", ttl: VEND_TTL_SECONDS });
    assert.equal(vended.status, 200, `vend failed at step ${vended.step}: ${JSON.stringify(vended.body)}`);
    assert.equal(vended.body.provider, "self-hosted");
    assert.equal(vended.body.degraded, true);
    const turn = selfHostedEntry(vended.body);
    const gathered = await page.evaluate(gatherRelayInPage, {
      iceServers: vended.body.iceServers,
      timeoutMs: GATHER_TIMEOUT_MS,
    });
    const found = relays(gathered);
    assert.ok(found.length >= 1, `no relay candidate: ${JSON.stringify(gathered)}`);
    for (const c of found) assert.equal(c.address, "127.0.0.1");
    assert.deepEqual(gathered.errors, []);
    assert.ok(coturnAllocated(turn.username), "coturn's log shows no ALLOCATE for the self-hosted username");
  });

  test("the connectivity page says the check was served by the self-hosted TURN servers, degraded, and a relay is reachable", async (t) => {
    t.after(closePage);
    t.after(() => clearFaults(env.emulatorUrl));
    await faultCredentials(env.emulatorUrl, { status: 503 });
    page = await env.browser.newPage();
    await page.goto(`${env.workerUrl}/`);
    const verdict = page.locator("#verdict");
    await verdict.filter({ hasText: /TURN relay reachable: (yes|no)/ }).waitFor({ timeout: 30_000 });
    assert.equal(await verdict.textContent(), "TURN relay reachable: yes");
    assert.equal(
      await page.locator("#provider").textContent(),
      "Served by: self-hosted TURN servers (degraded: the preferred provider failed, this is the fallback).",
    );
  });

  test("/healthz shows the breaker on the credential API", async () => {
    const res = await fetch(`${env.workerUrl}/healthz`);
    const body = await res.json();
    assert.equal(body.result.credential_api.mode, "failover");
    assert.ok(["closed", "open", "half_open"].includes(body.result.credential_api.state));
  });
});

describe("both: one answer with both providers", () => {
  test("the answer holds the emulator's TURN entry and the self-hosted one, and each gets a relay from coturn", async (t) => {
    t.after(closePage);
    // Both providers are the same coturn here. Two UDP allocations from the browser's one UDP socket to one
    // server would share a 5-tuple, which TURN refuses (437), so the emulator (Cloudflare) answers its TCP URL
    // only (PUT /__emulator/ice-urls); real providers are different servers.
    const tcpOnly = env.turnUrls.filter((u) => u.endsWith("transport=tcp"));
    await emulatorControl(both.emulatorUrl, "ice-urls", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ urls: tcpOnly }),
    });
    const vended = await vendAsCaller(both.workerUrl, "e2e-both");
    assert.equal(vended.status, 200, JSON.stringify(vended.body));
    assert.equal(vended.body.provider, "both");
    assert.equal(vended.body.degraded, undefined);
    const entries = turnEntries(vended.body);
    assert.equal(entries.length, 2, JSON.stringify(vended.body.iceServers));
    const own = selfHostedEntry(vended.body);
    const upstream = entries.find((e) => e !== own);
    assert.ok(!isSelfHosted(upstream.username), "the other entry is the emulator's (Cloudflare's) credential");
    assert.deepEqual(upstream.urls, tcpOnly);
    const gathered = await gatherAt(both.workerUrl, vended.body.iceServers);
    // A relay per URL: the self-hosted UDP and TCP ones, and the emulator's TCP one.
    assert.equal(relays(gathered).length, 3, JSON.stringify(gathered));
    assert.deepEqual(gathered.errors, []);
    t.diagnostic(`3 relay candidates in ${gathered.ms} ms (gathering ${gathered.state})`);
    assert.ok(coturnAllocated(own.username), "no ALLOCATE with the self-hosted credential");
    assert.ok(coturnAllocated(upstream.username), "no ALLOCATE with the emulator's credential");
  });
});

describe("VEND_FAIL_OPEN=stun with no fallback: no TURN at all", () => {
  test("the credential API fails: 200 with STUN servers only, degraded, and no relay candidate", async (t) => {
    t.after(closePage);
    t.after(() => clearFaults(failOpen.emulatorUrl));
    await faultCredentials(failOpen.emulatorUrl, { status: 503 });
    const vended = await vendAsCaller(failOpen.workerUrl, "e2e-fail-open");
    assert.equal(vended.status, 200, JSON.stringify(vended.body));
    assert.equal(vended.body.degraded, true);
    assert.deepEqual(turnEntries(vended.body), []);
    assert.ok(
      vended.body.iceServers.every((s) => s.urls.every((u) => /^stuns?:/.test(u))),
      JSON.stringify(vended.body.iceServers),
    );
    const gathered = await gatherAt(failOpen.workerUrl, vended.body.iceServers);
    assert.deepEqual(relays(gathered), []);
  });
});

describe("turnutils_uclient with a self-hosted credential", () => {
  test("allocates with a fallback credential vended while the credential API fails, and fails with a tampered one", async (t) => {
    t.after(() => clearFaults(env.emulatorUrl));
    await faultCredentials(env.emulatorUrl, { status: 503 });
    const vended = await vendAsCaller(env.workerUrl, "e2e-uclient-fallback");
    assert.equal(vended.status, 200, JSON.stringify(vended.body));
    const turn = selfHostedEntry(vended.body);
    const ok = await uclientAllocate({ port: env.coturn.port, username: turn.username, credential: turn.credential });
    assert.equal(ok.code, 0, ok.output);
    assert.ok(coturnAllocated(turn.username), "coturn's log shows no ALLOCATE for the self-hosted username");
    const tampered = (turn.credential[0] === "A" ? "B" : "A") + turn.credential.slice(1);
    const refused = await uclientAllocate({ port: env.coturn.port, username: turn.username, credential: tampered });
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /Cannot complete Allocation/);
  });
});
