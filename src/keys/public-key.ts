// What turnvend shows of a key: exactly Cloudflare's v4 fields, with turnvend's create marker removed.
import type { TurnKey } from "../contract/responses";
import { untagName } from "./name-tag";

export function toPublic(k: { uid: string; name?: string | null; created: string; modified: string }): TurnKey {
  return { uid: k.uid, name: untagName(k.name ?? ""), created: k.created, modified: k.modified };
}
