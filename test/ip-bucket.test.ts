// The per-IP vend bound counts an IPv6 client by its /64 (a client rotates through its /64 freely) and an
// IPv4 client by its address (src/vend/ip-bucket.ts), through the real vend route.
import { beforeEach, describe, expect, it } from "vitest";
import { ipBucketKey } from "../src/vend/ip-bucket";
import { emulator } from "./support/emulator";
import { resetWorld } from "./support/reset";
import { activeVendingKey, expectError, fetchWith, freshSubject, userJwt, VEND_PATH } from "./support/vend";

beforeEach(async () => {
  await resetWorld();
});

/** A limiter that admits `limit` requests per key and records every key it was asked about. */
function countingLimiter(limit: number) {
  const counts = new Map<string, number>();
  const binding: RateLimit = {
    limit: async ({ key }) => {
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      return { success: n <= limit };
    },
  };
  return { binding, counts };
}

async function vendFrom(ip: string, limiter: RateLimit): Promise<Response> {
  return fetchWith({ VEND_IP_LIMITER: limiter }, VEND_PATH, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await userJwt(freshSubject("ip"))}`,
      "content-type": "application/json",
      "cf-connecting-ip": ip,
    },
    body: JSON.stringify({ ttl: 60 }),
  });
}

describe("the per-IP vend bound's key", () => {
  it("is one /64 for every spelling of addresses in it", () => {
    const spellings = [
      "2001:db8:abcd:12::1",
      "2001:0db8:abcd:0012:0000:0000:0000:0001",
      "2001:DB8:ABCD:12:ffff:ffff:ffff:ffff",
      "2001:db8:abcd:12:1:2:3:4",
      "2001:db8:abcd:12::",
      "2001:db8:abcd:12:0:0:192.0.2.1",
      " 2001:db8:abcd:0012::abc ",
    ];
    expect(new Set(spellings.map(ipBucketKey))).toEqual(new Set(["ip:2001:db8:abcd:12::/64"]));
  });

  it("differs between neighbouring /64s and counts the zero-filled prefix right", () => {
    expect(ipBucketKey("2001:db8:abcd:13::1")).toBe("ip:2001:db8:abcd:13::/64");
    expect(ipBucketKey("2001:db8::1")).toBe("ip:2001:db8:0:0::/64");
    expect(ipBucketKey("2001:db8:0:1::1")).toBe("ip:2001:db8:0:1::/64");
    expect(ipBucketKey("::1")).toBe("ip:0:0:0:0::/64");
  });

  it("keeps IPv4 per address, IPv4-mapped IPv6 included", () => {
    expect(ipBucketKey("203.0.113.7")).toBe("ip:203.0.113.7");
    expect(ipBucketKey("203.0.113.8")).toBe("ip:203.0.113.8");
    expect(ipBucketKey("::ffff:203.0.113.7")).toBe("ip:203.0.113.7");
    expect(ipBucketKey("::FFFF:cb00:7107")).toBe("ip:203.0.113.7");
    expect(ipBucketKey("0:0:0:0:0:ffff:203.0.113.7")).toBe("ip:203.0.113.7");
  });

  it("keys anything else by its bounded raw text instead of failing", () => {
    for (const garbage of [
      "not-an-ip",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "2001:db8::g",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4::",
    ]) {
      expect(ipBucketKey(garbage), garbage).toBe(`ip:raw:${garbage}`);
    }
    expect(ipBucketKey("x".repeat(500))).toBe(`ip:raw:${"x".repeat(64)}`);
  });
});

// Each vend through fetchWith waits for the request's background work (about a second here): room for several.
const VENDS_TIMEOUT_MS = 20_000;

describe("POST /v1/ice-servers from IPv6 clients", () => {
  it(
    "shares one bound among the addresses of a /64, however they are written, and not with another /64",
    async () => {
      await activeVendingKey();
      const { binding, counts } = countingLimiter(2);
      expect((await vendFrom("2001:db8:1:2::a", binding)).status).toBe(200);
      expect((await vendFrom("2001:0db8:0001:0002:ffff:0:0:b", binding)).status).toBe(200);
      const before = (await emulator.calls()).total;
      const refused = await vendFrom("2001:DB8:1:2:dead:beef:0:c", binding);
      await expectError(refused, 429, 10029);
      expect(refused.headers.get("retry-after")).toBe("60");
      // Refused at the gate: nothing went upstream.
      expect((await emulator.calls()).total).toBe(before);
      // The neighbouring /64 has a bound of its own.
      expect((await vendFrom("2001:db8:1:3::a", binding)).status).toBe(200);
      expect(Object.fromEntries(counts)).toEqual({ "ip:2001:db8:1:2::/64": 3, "ip:2001:db8:1:3::/64": 1 });
    },
    VENDS_TIMEOUT_MS,
  );

  it(
    "still counts IPv4 clients per address, the mapped spelling as the same client",
    async () => {
      await activeVendingKey();
      const { binding, counts } = countingLimiter(1);
      expect((await vendFrom("198.51.100.9", binding)).status).toBe(200);
      await expectError(await vendFrom("::ffff:198.51.100.9", binding), 429, 10029);
      expect((await vendFrom("198.51.100.10", binding)).status).toBe(200);
      expect(Object.fromEntries(counts)).toEqual({ "ip:198.51.100.9": 2, "ip:198.51.100.10": 1 });
    },
    VENDS_TIMEOUT_MS,
  );

  it(
    "answers a garbage CF-Connecting-IP without a 5xx",
    async () => {
      await activeVendingKey();
      const { binding } = countingLimiter(10);
      for (const garbage of ["nonsense", "::::", "1.2.3", "[2001:db8::1]", "%zz"]) {
        expect((await vendFrom(garbage, binding)).status, garbage).toBe(200);
      }
    },
    VENDS_TIMEOUT_MS,
  );
});
