// PUT /v1/guard (guard:write): the operator's hand on the bill's guard. The kill switch stops vending at once
// (in this isolate at once, in every other within GUARD_MEMORY_MS); `lift` lets vending go on over the
// account budget for a stated time; `clear_user` lifts a user's block. Every change is audited; the kill
// switch also alerts.
import { GuardBody } from "../contract/requests";
import type { AppEnv } from "../http/app-env";
import { audited } from "../http/audited";
import { successEnvelope } from "../http/envelope";
import { Hono } from "../http/hono";
import { readJsonBody } from "../http/json-body";
import { methodNotAllowed } from "../http/method-not-allowed";
import { requireCaller } from "../http/require-caller";
import { makeAlert, sendAlerts } from "../storage/alerts";
import { rememberGuard } from "../storage/guard-memory";
import type { GuardChange } from "../storage/usage-api";
import { isoOrNull } from "../objects/usage-time";
import { reach } from "../vend/reach";
import { subjectHash } from "../vend/subject-hash";

export const guard = new Hono<AppEnv>();

guard.put("/", audited("guard.change"), requireCaller("guard:write"), async (c) => {
  const body = await readJsonBody(c, GuardBody);
  c.set("auditAction", `guard.${body.action}`);
  const config = c.get("config");
  const vend = c.get("services").vend;
  let change: GuardChange;
  let user: string | undefined;
  if (body.action === "stop" || body.action === "resume")
    change = { action: "kill_switch", on: body.action === "stop" };
  else if (body.action === "lift") {
    change = { action: "lift", until: body.seconds === 0 ? null : Date.now() + body.seconds * 1000 };
    c.set("auditTarget", `seconds=${body.seconds}`);
  } else {
    user = body.user ?? (await subjectHash(config.subjectHashKey, body.subject ?? ""));
    change = { action: "clear_user", user };
    c.set("auditTarget", user);
  }
  const { guard: view, cleared } = await vend.account.changeGuard(change);
  // The user's own object holds the block a vend checks: it is cleared there too.
  const target = user;
  const clearedInObject =
    target === undefined ? false : await reach("user_ledger", () => vend.users(target).clearBlock());
  rememberGuard(view);
  if (change.action === "kill_switch") {
    await sendAlerts(c.env.ALERTS, config.guard, [makeAlert("kill_switch", { on: change.on, by: c.get("caller").id })]);
  }
  c.header("Cache-Control", "no-store");
  return c.json(
    successEnvelope({
      vending: view.vending,
      reason: view.reason,
      kill_switch: view.kill_switch,
      lifted_until: isoOrNull(view.lifted_until),
      ...(user === undefined ? {} : { user, cleared: cleared || clearedInObject }),
    }),
  );
});

guard.all("/", methodNotAllowed("PUT"));
