// The account object as a test reaches it: its stub, its tables, and its environment swapped for a test.
import { env, runInDurableObject } from "cloudflare:test";
import { ACCOUNT_OBJECT_NAME } from "../../src/constants";
import type { AccountState } from "../../src/objects/account-state";

export function accountObject(): DurableObjectStub<AccountState> {
  return env.ACCOUNT_STATE.get(env.ACCOUNT_STATE.idFromName(ACCOUNT_OBJECT_NAME));
}

/** Rows of one of the account object's tables, as SQLite holds them. */
export function accountRows<T = Record<string, unknown>>(table: "creates" | "control"): Promise<T[]> {
  return runInDurableObject(accountObject(), (_instance, state) =>
    state.storage.sql.exec(`SELECT * FROM ${table}`).toArray(),
  ) as Promise<T[]>;
}

/**
 * Runs `body` while the account object sees `overrides` in its environment (a failing KV namespace, a small v4
 * budget), the way a Worker test passes a modified env to the fetch handler. The object reads its env on every
 * call, so the change holds for exactly this long.
 */
export async function withAccountEnv<T>(overrides: Partial<Record<keyof Env, unknown>>, body: () => Promise<T>) {
  const stub = accountObject();
  const swap = (next: (current: Env) => Env) =>
    runInDurableObject(stub, (instance) => {
      const holder = instance as unknown as { env: Env };
      holder.env = next(holder.env);
    });
  let original: Env | undefined;
  await swap((current) => {
    original = current;
    return { ...current, ...overrides } as Env;
  });
  try {
    return await body();
  } finally {
    await swap(() => original as Env);
  }
}
