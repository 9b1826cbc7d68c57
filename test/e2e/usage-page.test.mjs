// End to end: the usage page (public/usage.*) in Chromium against the local stack. Usage is injected into the
// emulator's analytics (POST /__emulator/usage) for three users over a few hours, the cron ingests it
// (GET /__scheduled, wrangler dev runs with --test-scheduled), and the page must draw exactly those numbers.
// It saves test-results/e2e/usage-page.png; with UPDATE_SCREENSHOTS=1 it also refreshes docs/usage-page.png, the
// README's screenshot (not on every run: the page's timestamps differ each time). Run with `npm run test:e2e`.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { createHash, createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ALL_SCOPES, DEV_CALLER_TOKEN } from "../../scripts/dev-defaults.mjs";
import { adminFetch, startEnvironment } from "./support/environment.mjs";

const ARTIFACTS = new URL("../../test-results/e2e/", import.meta.url).pathname;
const SCREENSHOT = `${ARTIFACTS}usage-page.png`;
const README_SCREENSHOT = new URL("../../docs/usage-page.png", import.meta.url).pathname;
const HOUR_MS = 3_600_000;
/** `npm start`'s SUBJECT_HASH_KEY (scripts/dev-defaults.mjs): turnvend tags each credential with this hash. */
const SUBJECT_HASH_KEY = "dev-subject-hash-key";
/** A caller that may read keys but not usage: the page must say what is missing. */
const READER_TOKEN = "e2e-reader-token";
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const subjectHash = (subject) => createHmac("sha256", SUBJECT_HASH_KEY).update(subject).digest("hex").slice(0, 32);

// Bytes per hour for each user, chosen so every figure the page shows has one exact spelling. With the local
// per-user budget of 1 GB a day (scripts/dev-defaults.mjs), alice's 1.2 GB blocks her; the account's 1.63 GB
// stays far below its 50 GB.
const MB = 1_000_000;
const USERS = { alice: 300 * MB, bob: 100 * MB, carol: 30 * MB };

let env;
let page;

before(
  async () => {
    env = await startEnvironment({
      coturn: false,
      workerEnv: {
        CALLERS: JSON.stringify([
          { id: "dev-admin", token_sha256: sha256(DEV_CALLER_TOKEN), scopes: ALL_SCOPES },
          { id: "e2e-reader", token_sha256: sha256(READER_TOKEN), scopes: ["keys:read"] },
        ]),
      },
    });
    console.log(`# chromium ${env.browser.version()}, worker ${env.workerUrl}`);
  },
  { timeout: 120_000 },
);

after(async () => {
  await page?.close();
  await env?.stop();
});

async function openUsagePage() {
  await page?.close();
  page = await env.browser.newPage({ viewport: { width: 1000, height: 900 } });
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  // The page's CSP must hold in the browser: no violation, no inline code.
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) errors.push(msg.text());
  });
  await page.goto(`${env.workerUrl}/usage`);
  return errors;
}

async function showWith(token) {
  await page.fill("#token", token);
  await page.click("#load");
}

/** Waits until the page shows the report, or fails with what its status line says instead. */
async function reportShown() {
  await page.waitForFunction(
    () =>
      !document.getElementById("report").classList.contains("hidden") ||
      document.getElementById("status").className === "error",
    undefined,
    { timeout: 10_000 },
  );
  assert.equal(await page.isVisible("#report"), true, `no report: ${await page.textContent("#status")}`);
}

async function usageApi() {
  const res = await adminFetch(env.workerUrl, "/v1/usage");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.result;
}

/** Runs the 5-minute cron and waits until GET /v1/usage reports an ingestion newer than `since`. */
async function runCron(since) {
  const res = await fetch(`${env.workerUrl}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
  assert.equal(res.status, 200, await res.text());
  const deadline = Date.now() + 10_000;
  for (;;) {
    const usage = await usageApi();
    const attempt = Date.parse(usage.analytics.last_attempt_at ?? "");
    if (attempt >= since) return usage;
    assert.ok(Date.now() < deadline, `the cron did not ingest: ${JSON.stringify(usage.analytics)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function emulatorPost(path, body) {
  const res = await fetch(`${env.emulatorUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

describe("the usage page at /usage, in Chromium", () => {
  test("says plainly when a token is refused (401) or lacks usage:read (403)", async () => {
    const errors = await openUsagePage();
    await showWith("not-a-token");
    await page.waitForFunction(() => document.getElementById("status").className === "error");
    assert.match(await page.textContent("#status"), /refused \(401\)/);
    await showWith(READER_TOKEN);
    await page.waitForFunction(() => /403/.test(document.getElementById("status").textContent));
    assert.match(await page.textContent("#status"), /needs the usage:read scope/);
    assert.equal(await page.isVisible("#report"), false);
    assert.deepEqual(errors, []);
  });

  test("before any usage: no bars, no users, and says so", async () => {
    const errors = await openUsagePage();
    // The dev-only route offers the dev token on a local stack; no static file holds it.
    await page.click("#dev-token");
    await reportShown();
    // The API lists every hour of the month so far, each with 0 bytes: no bar, no table row.
    assert.ok(Number(await page.getAttribute("#chart svg", "data-hours")) >= 1);
    assert.equal(await page.getAttribute("#chart svg", "data-bars"), "0");
    assert.equal(await page.locator("#chart svg rect.bar").count(), 0);
    assert.equal(await page.locator("#series-rows tr").count(), 0);
    assert.match(await page.textContent("#chart-caption"), /No egress recorded this month yet/);
    assert.equal(await page.isVisible("#top-empty"), true);
    assert.equal(await page.isVisible("#blocked-empty"), true);
    assert.deepEqual(errors, []);
  });

  test("draws the injected egress per hour, the budget burn, the top users and the blocked one", async () => {
    // Credentials for three users, vended by turnvend: the emulator attributes usage by username to the
    // customIdentifier turnvend sent, the user's subject hash.
    const usernames = {};
    for (const subject of Object.keys(USERS)) {
      const res = await adminFetch(env.workerUrl, "/v1/ice-servers", {
        method: "POST",
        body: JSON.stringify({ subject, ttl: 3600 }),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      usernames[subject] = res.body.iceServers.find((s) => s.username).username;
    }
    // The last four full hours (of this month: never before its first hour); carol only in the latest.
    const now = Date.now();
    const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    const thisHour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const hours = [4, 3, 2, 1].map((n) => thisHour - n * HOUR_MS).filter((h) => h >= monthStart);
    assert.ok(hours.length >= 1);
    const rows = [];
    const perHour = new Map(hours.map((h) => [h, 0]));
    for (const [i, hour] of hours.entries()) {
      for (const [subject, bytes] of Object.entries(USERS)) {
        if (subject === "carol" && i !== hours.length - 1) continue;
        const at = new Date(hour + 60_000).toISOString();
        rows.push({ username: usernames[subject], egressBytes: bytes, ingressBytes: bytes / 10, at });
        perHour.set(hour, perHour.get(hour) + bytes);
      }
    }
    await emulatorPost("/__emulator/usage", rows);
    const monthTotal = [...perHour.values()].reduce((a, b) => a + b, 0);
    const expectedMonth = {
      alice: USERS.alice * hours.length,
      bob: USERS.bob * hours.length,
      carol: USERS.carol,
    };

    const usage = await runCron(now);
    // The API first: it must carry exactly what was injected.
    assert.equal(usage.analytics.ok, true, JSON.stringify(usage.analytics));
    assert.equal(usage.month.egress_bytes, monthTotal);
    assert.deepEqual(
      usage.series.filter((s) => s.egress_bytes > 0).map((s) => [Date.parse(s.start), s.egress_bytes]),
      [...perHour],
    );
    assert.deepEqual(
      usage.top_users.map((u) => [u.user, u.egress_bytes_month]),
      Object.entries(expectedMonth).map(([s, b]) => [subjectHash(s), b]),
    );

    const errors = await openUsagePage();
    await page.click("#dev-token");
    await reportShown();

    // The chart: one bar per hour with data, each carrying its hour's exact bytes.
    const bars = await page.$$eval("#chart svg rect.bar", (rects) =>
      rects.map((r) => [Date.parse(r.dataset.start), Number(r.dataset.egressBytes), Number(r.getAttribute("height"))]),
    );
    assert.deepEqual(
      bars.map(([start, bytes]) => [start, bytes]),
      [...perHour],
    );
    assert.equal(await page.getAttribute("#chart svg", "data-bars"), String(perHour.size));
    for (const [, , height] of bars) assert.ok(height > 0, "a bar with bytes has a height");
    assert.equal(await page.getAttribute("#chart svg", "data-total-egress-bytes"), String(monthTotal));
    // Its text alternative lists the same hours, formatted with units.
    const table = await page.$$eval("#series-rows tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
    );
    assert.deepEqual(
      table.map((cells) => cells[1]),
      [...perHour.values()].map((b) => `${b / MB} MB`),
    );

    // The month's burn against the 50 GB local budget, and the projection the API made.
    const burn = await page.textContent("#burn-text");
    assert.match(burn, new RegExp(`: ${(monthTotal / 1e9).toFixed(2)} GB of the 50\\.0 GB budget \\(`));
    assert.equal(await page.getAttribute("#burn-text", "data-egress-bytes"), String(monthTotal));
    assert.equal(
      await page.getAttribute("#projection-text", "data-projected-bytes"),
      String(usage.month.projected_egress_bytes),
    );
    assert.equal(await page.locator("#burn-bar svg").count(), 1);

    // The top users by hash, heaviest first, with alice blocked by her per-user budget.
    const top = await page.$$eval("#top-rows tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
    );
    assert.deepEqual(
      top.map((cells) => cells[0]),
      ["alice", "bob", "carol"].map(subjectHash),
    );
    assert.equal(top[0][2], `${(expectedMonth.alice / 1e9).toFixed(2)} GB`);
    assert.equal(top[0][3], "yes");
    const blocked = await page.$$eval("#blocked-rows tr", (trs) => trs.map((tr) => tr.cells[0].textContent));
    assert.deepEqual(blocked, [subjectHash("alice")]);

    // Fresh data and an open guard.
    assert.equal(await page.getAttribute("#data-age", "data-stale"), "false");
    assert.equal(await page.getAttribute("#analytics-state", "data-ok"), "true");
    assert.equal(await page.getAttribute("#guard-state", "data-vending"), "open");
    assert.deepEqual(errors, []);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    if (process.env.UPDATE_SCREENSHOTS === "1") copyFileSync(SCREENSHOT, README_SCREENSHOT);
  });

  test("shows failing analytics visibly after a reload, the token kept in the tab's sessionStorage", async () => {
    await emulatorPost("/__emulator/faults", { route: "graphql", status: 500, count: -1 });
    await runCron(Date.now());
    // The same tab, reloaded: the token comes back from sessionStorage, never from the URL.
    await page.reload();
    await reportShown();
    assert.equal(new URL(page.url()).search, "");
    assert.equal(await page.getAttribute("#analytics-state", "data-ok"), "false");
    assert.match(await page.textContent("#analytics-state"), /failing since the last success/);
  });
});
