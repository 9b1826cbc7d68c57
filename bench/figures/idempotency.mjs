// Figure: exact idempotency. Concurrent creates with one Idempotency-Key against the local stack, while the
// emulator holds the create at "Cloudflare" so they overlap: exactly one upstream key, and every answer is
// that key (201, the first or its replay) or a 409 for a duplicate that arrived while it was running.
import { ADMIN_HEADERS, KEYS_PATH } from "../clients.mjs";

export async function exactIdempotency({ stack, emu, settings }) {
  const { concurrent, createDelayMs } = settings;
  const idempotencyKey = `bench-${crypto.randomUUID()}`;
  const name = `bench exact idempotency ${idempotencyKey.slice(-8)}`;
  const before = await emu.settledCalls();
  await emu.fault({ route: "turn_keys.create", delayMs: createDelayMs, count: 1 });
  let answers;
  try {
    answers = await Promise.all(
      Array.from({ length: concurrent }, async () => {
        const res = await fetch(stack.url + KEYS_PATH, {
          method: "POST",
          headers: { ...ADMIN_HEADERS, "content-type": "application/json", "idempotency-key": idempotencyKey },
          body: JSON.stringify({ name }),
        });
        const body = await res.json().catch(() => null);
        return {
          status: res.status,
          replayed: res.headers.get("idempotent-replayed") === "true",
          uid: body?.result?.uid,
        };
      }),
    );
  } finally {
    await emu.clearFaults();
  }
  const after = await emu.settledCalls();
  const upstreamKeys = (await emu.keys()).keys.filter((k) => k.name === name);
  const created = answers.filter((a) => a.status === 201);
  const other = answers.filter((a) => a.status !== 201 && a.status !== 409);
  if (other.length > 0) throw new Error(`answers other than 201 or 409: ${other.map((a) => a.status).join(", ")}`);
  const uids = new Set(created.map((a) => a.uid));
  if (uids.size !== 1 || !upstreamKeys.some((k) => uids.has(k.uid)))
    throw new Error(`the 201 answers name ${uids.size} keys, upstream holds ${upstreamKeys.length}`);
  return {
    value: upstreamKeys.length,
    detail: {
      creates_sent: concurrent,
      upstream_create_calls: after["turn_keys.create"] - before["turn_keys.create"],
      answered_201_first: created.filter((a) => !a.replayed).length,
      answered_201_replay: created.filter((a) => a.replayed).length,
      answered_409: answers.filter((a) => a.status === 409).length,
      create_held_upstream_ms: createDelayMs,
    },
    load: { concurrent, idempotency_keys: 1 },
  };
}
