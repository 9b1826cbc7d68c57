// What turnvend shows of a key: exactly Cloudflare's v4 fields, the name as Cloudflare holds it.
import type { TurnKey } from "../contract/responses";

export function toPublic(k: { uid: string; name?: string | null; created: string; modified: string }): TurnKey {
  return { uid: k.uid, name: k.name ?? "", created: k.created, modified: k.modified };
}
