// The per-IP vend bound's unit: an IPv6 client is given a whole /64 and rotates through it freely, so it counts
// by its /64; IPv4 counts per address, an IPv4-mapped `::ffff:a.b.c.d` as that IPv4 address.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The limiter key: `ip:<IPv4>`, `ip:<first four hextets>::/64`, or (not an address: local runs only) the raw text. */
export function ipBucketKey(clientIp: string): string {
  const ip = clientIp.trim();
  if (IPV4.test(ip)) return `ip:${ip}`;
  const groups = ip.includes(":") ? ipv6Groups(ip) : undefined;
  if (!groups) return `ip:raw:${ip.slice(0, 64)}`;
  if (groups.slice(0, 6).join(":") === "0:0:0:0:0:ffff") {
    const [hi, lo] = [groups[6], groups[7]].map((g) => Number.parseInt(g, 16));
    return `ip:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `ip:${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight groups, `::` expanded. The URL parser validates and canonicalizes (lowercase, no leading zeros). */
function ipv6Groups(ip: string): string[] | undefined {
  let host: string;
  try {
    host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head, tail] = host.split("::").map((side) => (side ? side.split(":") : []));
  return tail ? [...head, ...new Array<string>(8 - head.length - tail.length).fill("0"), ...tail] : head;
}
