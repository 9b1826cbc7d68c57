// The per-IP vend bound's unit of counting. An IPv6 client is given a whole /64 (SLAAC, privacy addresses)
// and rotates through it freely, so counting it per address would not bound it at all: IPv6 counts per /64.
// IPv4 counts per address, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is that IPv4 address.

/** Longest header value used as-is for a value that is no IP address (local runs only: the edge sets it). */
const RAW_KEY_MAX_LENGTH = 64;

/** The limiter key for a client address: `ip:<IPv4>`, `ip:<first four hextets>::/64`, or the raw value, bounded. */
export function ipBucketKey(clientIp: string): string {
  const value = clientIp.trim();
  if (parseIpv4(value)) return `ip:${value}`;
  const hextets = parseIpv6(value);
  if (!hextets) return `ip:raw:${value.slice(0, RAW_KEY_MAX_LENGTH)}`;
  const mapped = hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff;
  if (mapped) return `ip:${hextets[6] >> 8}.${hextets[6] & 0xff}.${hextets[7] >> 8}.${hextets[7] & 0xff}`;
  return `ip:${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(":")}::/64`;
}

/** The four octets of a dotted-quad IPv4 address (no leading zeros, which some parsers read as octal). */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded, a trailing dotted IPv4 and a zone id allowed. */
function parseIpv6(text: string): number[] | undefined {
  const halves = text.replace(/%[^%]+$/, "").split("::");
  if (halves.length > 2) return undefined;
  const head = words(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1], true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  // `::` stands for at least one zero group.
  const zeros = 8 - head.length - tail.length;
  return zeros >= 1 ? [...head, ...new Array<number>(zeros).fill(0), ...tail] : undefined;
}

/** The 16-bit groups of one side of `::`; a dotted IPv4 may end it only when it ends the address. */
function words(side: string, endsAddress: boolean): number[] | undefined {
  if (side === "") return [];
  const groups = side.split(":");
  const out: number[] = [];
  for (const [i, group] of groups.entries()) {
    if (/^[0-9a-f]{1,4}$/i.test(group)) out.push(Number.parseInt(group, 16));
    else if (endsAddress && i === groups.length - 1 && parseIpv4(group)) {
      const v4 = parseIpv4(group) as number[];
      out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else return undefined;
  }
  return out;
}
