// `.dev.vars`, wrangler's file of local settings, in the emulator mode of the local stack. There the Worker's
// settings go in with `wrangler dev --env-file`, and wrangler then never reads .dev.vars itself; so the stack
// reads it here and lays it over the local defaults: defaults < .dev.vars < the caller's workerEnv.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/**
 * Settings .dev.vars cannot change in emulator mode: the upstreams stay on the emulator the stack starts (its
 * port is chosen at start). Pointed anywhere else they would leave the emulator unused, and the Worker would
 * refuse the dev defaults, which it honours only against a loopback upstream. To run against real Cloudflare,
 * put CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN in .dev.vars instead: then there is no emulator.
 */
export const EMULATOR_PINNED = Object.freeze(["CF_API_BASE_URL", "RTC_API_BASE_URL"]);

/** The file wrangler reads: `.dev.vars.<env>` when `env` is given and that file exists, else `.dev.vars`. */
export function devVarsFile(dir, env) {
  const names = env ? [`.dev.vars.${env}`, ".dev.vars"] : [".dev.vars"];
  return names.map((name) => join(dir, name)).find((path) => existsSync(path));
}

/**
 * Parses .dev.vars text as wrangler does (dotenv syntax: quotes, `#` comments, `export `, multi-line quoted
 * values, no `$` expansion). Node's parser; it differs from wrangler's only on the rare `KEY: value` form.
 */
export function parseDevVars(text) {
  return { ...parseEnv(text) };
}

/** `{ path, values }` of the .dev.vars file wrangler would read in `dir`, or undefined when there is none. */
export function readDevVars(dir, env) {
  const path = devVarsFile(dir, env);
  return path === undefined ? undefined : { path, values: parseDevVars(readFileSync(path, "utf8")) };
}

/** True when the values name a real account (CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN both set). */
export function namesRealAccount(values) {
  return Boolean(values?.CLOUDFLARE_ACCOUNT_ID?.trim() && values?.CLOUDFLARE_API_TOKEN?.trim());
}

/**
 * The Worker's settings in emulator mode, lowest first: `defaults`, then `devVars` (except EMULATOR_PINNED),
 * then `workerEnv` (the tests' and benchmark's own settings, which win over everything).
 * Returns the settings, the names whose value came from .dev.vars, and the pinned names .dev.vars tried to
 * set. Names only: the values may be secrets.
 */
export function mergeDevSettings({ defaults, devVars = {}, workerEnv = {} }) {
  const pinned = Object.keys(devVars).filter((name) => EMULATOR_PINNED.includes(name));
  const applied = Object.fromEntries(Object.entries(devVars).filter(([name]) => !EMULATOR_PINNED.includes(name)));
  const settings = { ...defaults, ...applied, ...workerEnv };
  const fromDevVars = Object.keys(applied).filter((name) => !Object.hasOwn(workerEnv, name));
  return { settings, fromDevVars: fromDevVars.sort(), pinned: pinned.sort() };
}

/**
 * Renders settings as the file for `wrangler dev --env-file`. Wrangler reads it with dotenv and then expands
 * `$NAME` (dotenv-expand), so every `$` is written `\$`, which comes back as a literal `$`; each value is quoted
 * with a quote it does not hold (single quotes and backticks keep it literal). So values from .dev.vars (JSON,
 * several lines, any character) arrive unchanged.
 */
export function toEnvFile(settings) {
  return (
    Object.entries(settings)
      .map(([name, value]) => `${name}=${quote(name, String(value))}`)
      .join("\n") + "\n"
  );
}

function quote(name, value) {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`.dev.vars: ${name} is not a name wrangler dev can read`);
  const text = value.replaceAll("$", "\\$");
  for (const q of ["'", "`"]) if (!text.includes(q)) return q + text + q;
  // Double quotes turn \n and \r into line breaks, so only for values holding neither.
  if (!text.includes('"') && !/\\[nr]/.test(text)) return `"${text}"`;
  throw new Error(`.dev.vars: the value of ${name} holds ', \` and " at once; wrangler dev cannot be given it`);
}
