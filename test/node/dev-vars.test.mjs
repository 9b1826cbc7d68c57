// `.dev.vars` over the local defaults in emulator mode (scripts/dev-vars.mjs), checked against wrangler's own
// reading of .dev.vars and of the --env-file the stack writes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { unstable_getVarsForDev as wranglerVarsForDev } from "wrangler";
import { devSettings } from "../../scripts/dev-defaults.mjs";
import {
  EMULATOR_PINNED,
  mergeDevSettings,
  namesRealAccount,
  parseDevVars,
  readDevVars,
  toEnvFile,
} from "../../scripts/dev-vars.mjs";

const dir = mkdtempSync(join(tmpdir(), "turnvend-dev-vars-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const inDir = (name, text) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** What wrangler dev binds from .dev.vars (envFiles undefined) or from --env-file files, as plain values. */
const wranglerReads = (envFiles, env) =>
  Object.fromEntries(
    Object.entries(wranglerVarsForDev(join(dir, "wrangler.toml"), envFiles, {}, env, true)).map(([k, b]) => [
      k,
      b.value,
    ]),
  );

const defaults = devSettings({ port: 8787, emulatorUrl: "http://127.0.0.1:9000" });

test("a .dev.vars setting wins over the local default; the rest stay the defaults", () => {
  const { settings, fromDevVars, pinned } = mergeDevSettings({
    defaults,
    devVars: { ALLOWED_ORIGINS: "http://localhost:5173", CREDENTIAL_REUSE_SECONDS: "60" },
  });
  assert.equal(settings.ALLOWED_ORIGINS, "http://localhost:5173");
  assert.equal(settings.CREDENTIAL_REUSE_SECONDS, "60");
  assert.deepEqual(
    { ...settings, ALLOWED_ORIGINS: undefined, CREDENTIAL_REUSE_SECONDS: undefined },
    {
      ...defaults,
      ALLOWED_ORIGINS: undefined,
      CREDENTIAL_REUSE_SECONDS: undefined,
    },
  );
  assert.deepEqual(fromDevVars, ["ALLOWED_ORIGINS", "CREDENTIAL_REUSE_SECONDS"]);
  assert.deepEqual(pinned, []);
});

test("the order is defaults < .dev.vars < workerEnv, and only names .dev.vars really set are reported", () => {
  const { settings, fromDevVars } = mergeDevSettings({
    defaults,
    devVars: { ALLOWED_ORIGINS: "http://localhost:5173", JWT_ISSUER: "from-dev-vars" },
    workerEnv: { ALLOWED_ORIGINS: "http://127.0.0.1:4000", UPSTREAM_TIMEOUT_MS: "500" },
  });
  assert.equal(settings.ALLOWED_ORIGINS, "http://127.0.0.1:4000");
  assert.equal(settings.JWT_ISSUER, "from-dev-vars");
  assert.equal(settings.UPSTREAM_TIMEOUT_MS, "500");
  assert.deepEqual(fromDevVars, ["JWT_ISSUER"]);
});

test("no .dev.vars: exactly the defaults (plus workerEnv), as before", () => {
  assert.deepEqual(mergeDevSettings({ defaults }).settings, defaults);
  assert.deepEqual(mergeDevSettings({ defaults, devVars: undefined, workerEnv: { X: "1" } }).settings, {
    ...defaults,
    X: "1",
  });
});

test(".dev.vars cannot move the upstreams off the emulator (the dev defaults stay loopback-only)", () => {
  const { settings, fromDevVars, pinned } = mergeDevSettings({
    defaults,
    devVars: {
      CF_API_BASE_URL: "https://api.cloudflare.com/client/v4",
      RTC_API_BASE_URL: "https://rtc.live.cloudflare.com/v1",
    },
  });
  assert.deepEqual(EMULATOR_PINNED, ["CF_API_BASE_URL", "RTC_API_BASE_URL"]);
  assert.equal(settings.CF_API_BASE_URL, "http://127.0.0.1:9000/client/v4");
  assert.equal(settings.RTC_API_BASE_URL, "http://127.0.0.1:9000/v1");
  assert.deepEqual(fromDevVars, []);
  assert.deepEqual(pinned, ["CF_API_BASE_URL", "RTC_API_BASE_URL"]);
});

test("a real account needs both CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN, non-blank", () => {
  assert.equal(namesRealAccount(undefined), false);
  assert.equal(namesRealAccount({ CLOUDFLARE_ACCOUNT_ID: "abc" }), false);
  assert.equal(namesRealAccount({ CLOUDFLARE_ACCOUNT_ID: "abc", CLOUDFLARE_API_TOKEN: "  " }), false);
  assert.equal(namesRealAccount(parseDevVars("CLOUDFLARE_ACCOUNT_ID=abc\nCLOUDFLARE_API_TOKEN=''\n")), false);
  assert.equal(namesRealAccount({ CLOUDFLARE_ACCOUNT_ID: "abc", CLOUDFLARE_API_TOKEN: "t" }), true);
});

test(".dev.vars is parsed as wrangler parses it, and .dev.vars.<env> is picked as wrangler picks it", () => {
  assert.equal(readDevVars(dir), undefined);
  const text = [
    "# a comment",
    "ALLOWED_ORIGINS=http://localhost:5173,http://127.0.0.1:5173",
    "export JWT_ISSUER=issuer # trailing comment",
    `CALLERS='[{"id":"me","token_sha256":"00","scopes":["keys:read"]}]'`,
    'SUBJECT_HASH_KEY="two\\nlines"',
    "KEY_ENCRYPTION_KEY='k1:literal $HOME \\n'",
    "JWT_AUDIENCE=",
    "",
  ].join("\n");
  inDir(".dev.vars", text);
  const read = readDevVars(dir);
  assert.equal(read.path, join(dir, ".dev.vars"));
  assert.deepEqual(read.values, wranglerReads(undefined));
  assert.equal(read.values.ALLOWED_ORIGINS, "http://localhost:5173,http://127.0.0.1:5173");

  // With --env staging: .dev.vars.staging when it exists (instead of .dev.vars, not on top of it).
  assert.equal(readDevVars(dir, "staging").path, join(dir, ".dev.vars"));
  inDir(".dev.vars.staging", "ALLOWED_ORIGINS=https://staging.example\n");
  assert.equal(readDevVars(dir, "staging").path, join(dir, ".dev.vars.staging"));
  assert.deepEqual(readDevVars(dir, "staging").values, wranglerReads(undefined, "staging"));
  assert.deepEqual(readDevVars(dir, "staging").values, { ALLOWED_ORIGINS: "https://staging.example" });
});

test("the --env-file the stack writes gives wrangler every value unchanged", () => {
  const settings = {
    ...defaults,
    ALLOWED_ORIGINS: "http://localhost:5173",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${HOME}, which dotenv-expand would expand
    DOLLARS: "pa$$word $HOME ${HOME} \\$x",
    QUOTES: `it's "quoted"`,
    LINES: "one\ntwo\\nthree",
    EMPTY: "",
    SPACES: "  padded  ",
    HASH: "a # not a comment",
  };
  const file = inDir("stack.env", toEnvFile(settings));
  assert.deepEqual(wranglerReads([file]), settings);
  // A value holding all three quotes has no dotenv form; it is refused, naming the setting.
  assert.throws(() => toEnvFile({ ALL_THREE: `' " \`` }), /ALL_THREE/);
  assert.throws(() => toEnvFile({ "BAD NAME": "x" }), /BAD NAME/);
});

test("errors and the reported names never carry a value", () => {
  const secret = `s3cret-' " \``;
  assert.throws(
    () => toEnvFile({ CALLERS: secret }),
    (err) => !err.message.includes("s3cret"),
  );
  const { fromDevVars, pinned } = mergeDevSettings({
    defaults,
    devVars: { CALLERS: "s3cret", CF_API_BASE_URL: "s3cret" },
  });
  assert.ok(![...fromDevVars, ...pinned].some((name) => name.includes("s3cret")));
});
