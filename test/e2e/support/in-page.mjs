// Code the tests run inside the browser page with page.evaluate(). Each function is serialized on its
// own, so it must not use anything from this module's scope.

/**
 * Vends ICE servers the way a web app does: it imports turnvend's browser helper from `${base}/ice-servers.js`
 * (cross-origin too: the helper is served with CORS for module scripts) and calls its getIceServers with a
 * JWT (given, or minted by turnvend's dev-only GET /v1/dev/jwt when `devSub` is set).
 * Resolves { status, body, step }: body is the vend answer, or the v4 error envelope rebuilt from the
 * helper's TurnvendError.
 */
export async function vendInPage({ base, token, devSub, ttl }) {
  let jwt = token;
  if (devSub !== undefined) {
    const res = await fetch(`${base}/v1/dev/jwt?sub=${encodeURIComponent(devSub)}`, { cache: "no-store" });
    if (!res.ok) return { status: res.status, body: await res.text(), step: "dev_jwt" };
    jwt = (await res.json()).result.token;
  }
  let helper;
  try {
    helper = await import(`${base}/ice-servers.js`);
  } catch (err) {
    return { status: 0, body: String(err), step: "load_helper" };
  }
  try {
    const body = await helper.getIceServers({ url: base, token: jwt, ttl });
    return { status: 200, body, step: "vend" };
  } catch (err) {
    if (!(err instanceof helper.TurnvendError)) return { status: 0, body: String(err), step: "vend" };
    return {
      status: err.status,
      body: { success: false, errors: [{ code: err.code, message: err.message }] },
      step: "vend",
    };
  }
}

/**
 * ICE gathering with iceTransportPolicy "relay", so only relay candidates can appear: a data channel,
 * an offer, setLocalDescription, then every candidate and every icecandidateerror until gathering
 * completes (or `timeoutMs` passes). Resolves { candidates, errors, state, ms }.
 */
export async function gatherRelayInPage({ iceServers, timeoutMs }) {
  const started = performance.now();
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  const candidates = [];
  const errors = [];
  const finished = new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    pc.addEventListener("icecandidate", (event) => {
      if (event.candidate === null) {
        clearTimeout(timer);
        resolve("complete");
      } else if (event.candidate.candidate) {
        const c = event.candidate;
        candidates.push({
          type: c.type,
          protocol: c.protocol,
          address: c.address,
          port: c.port,
          relayProtocol: c.relayProtocol ?? null,
          url: c.url ?? event.url ?? null,
        });
      }
    });
    pc.addEventListener("icecandidateerror", (event) => {
      errors.push({ url: event.url, errorCode: event.errorCode, errorText: event.errorText });
    });
  });
  pc.createDataChannel("turnvend-e2e");
  await pc.setLocalDescription(await pc.createOffer());
  const state = await finished;
  pc.close();
  return { candidates, errors, state, ms: Math.round(performance.now() - started) };
}
