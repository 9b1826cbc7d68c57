// The Durable Objects as tests reach them: a user's object by subject, its ledger as stored in SQLite, and
// bindings that fail or wait on purpose.
import { env, runInDurableObject } from "cloudflare:test";
import type { StoredSet } from "../../src/objects/ledger-pages";
import { subjectHash } from "../../src/vend/subject-hash";
import { SUBJECT_HASH_KEY } from "./fixtures";

export const hashOf = (subject: string) => subjectHash(SUBJECT_HASH_KEY, subject);

/** The user's own object, named by the subject's keyed hash as the Worker names it. */
export async function userObject(subject: string) {
  return env.USER_LEDGER.get(env.USER_LEDGER.idFromName(await hashOf(subject)));
}

/** Every set in the user's ledger, read from the object's SQLite (not from its memory), oldest first. */
export async function storedSets(subject: string): Promise<StoredSet[]> {
  return runInDurableObject(await userObject(subject), (_instance, state) => {
    const table = state.storage.sql
      .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_pages'")
      .toArray();
    if (table.length === 0) return [];
    return state.storage.sql
      .exec<{ sets: string }>("SELECT sets FROM ledger_pages ORDER BY id")
      .toArray()
      .flatMap((row) => JSON.parse(row.sets) as StoredSet[]);
  });
}

/** A Durable Object binding whose every call fails, as when the object cannot be reached. */
export function unreachableObjects(): DurableObjectNamespace {
  const fail = () => Promise.reject(new Error("injected: Durable Object unreachable"));
  const stub = new Proxy({}, { get: () => fail });
  return {
    idFromName: (name: string) => env.USER_LEDGER.idFromName(name),
    get: () => stub,
  } as unknown as DurableObjectNamespace;
}

/** A Durable Object binding whose every call never settles, as with an object stuck on a long task. */
export function stuckObjects(): DurableObjectNamespace {
  const never = () => new Promise<never>(() => {});
  const stub = new Proxy({}, { get: () => never });
  return {
    idFromName: (name: string) => env.USER_LEDGER.idFromName(name),
    get: () => stub,
  } as unknown as DurableObjectNamespace;
}

/**
 * The username index binding, with `add` replaced: `add(original, args)` decides what the Worker's write
 * of a vend's usernames does (fail, wait, or go through).
 */
export function indexWithAdd(
  add: (original: (...args: unknown[]) => Promise<unknown>, args: unknown[]) => Promise<unknown>,
): DurableObjectNamespace {
  const ns = env.USERNAME_INDEX;
  return {
    idFromName: (name: string) => ns.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = ns.get(id);
      return {
        add: (...args: unknown[]) =>
          add((...a: unknown[]) => (stub.add as (...x: unknown[]) => Promise<unknown>)(...a), args),
        find: (username: string) => stub.find(username),
        tombstone: (username: string) => stub.tombstone(username),
      };
    },
  } as unknown as DurableObjectNamespace;
}
