// The connectivity page: "does TURN work from this network?". One self-contained document (no CDN,
// works offline): it gets credentials from turnvend, runs ICE gathering with them, and lists every
// candidate with its server URL and timing, then the verdict. Inline script and style carry the
// per-response CSP nonce; nothing from the network is ever written as HTML (textContent only).

/** Credential lifetime the page asks for: the check takes seconds, so the policy minimum is plenty. */
const CHECK_TTL_SECONDS = 60;
/** ICE gathering stops after this long even if the browser never reports "complete". */
const GATHER_TIMEOUT_MS = 15_000;

export function connectivityPage(input: { nonce: string; devMode: boolean }): string {
  const { nonce, devMode } = input;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>turnvend: TURN connectivity check</title>
<style nonce="${nonce}">
  :root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --muted: #6e7781; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: .25rem; }
  p.lead { color: var(--muted); margin-top: 0; }
  fieldset { border: 1px solid #8884; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
  label { display: block; margin: .4rem 0 .15rem; font-weight: 600; }
  textarea, input { width: 100%; box-sizing: border-box; font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; padding: .35rem; }
  button { margin-top: .75rem; padding: .45rem 1.1rem; font-weight: 600; cursor: pointer; }
  #verdict { font-size: 1.3rem; font-weight: 700; margin: 1rem 0; }
  #verdict.yes { color: var(--ok); } #verdict.no { color: var(--bad); }
  #status { color: var(--muted); min-height: 1.2em; }
  #status.error { color: var(--bad); }
  table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: .5rem; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #8883; vertical-align: top; }
  td.mono, li.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
  .type-relay { color: var(--ok); font-weight: 700; } .type-srflx { color: #0969da; } .type-host { color: var(--muted); }
  .hidden { display: none; }
  small { color: var(--muted); }
</style>
</head>
<body data-dev="${devMode ? "true" : "false"}">
<h1>TURN connectivity check</h1>
<p class="lead">Gets short-lived credentials from turnvend, gathers ICE candidates with them in this browser, and shows whether a TURN relay is reachable from this network.</p>

<fieldset id="credentials">
  <p id="dev-note" class="hidden"><small>Local development: a dev JWT is minted for you. You can still paste a token below.</small></p>
  <label for="token">Token</label>
  <textarea id="token" rows="3" spellcheck="false" autocomplete="off" placeholder="An end-user JWT, or an internal caller token with credentials:issue"></textarea>
  <label for="subject">Subject <small>(only for a caller token; end-user JWTs carry their own)</small></label>
  <input id="subject" value="connectivity-check" spellcheck="false" autocomplete="off">
  <button id="run" type="button">Run check</button>
</fieldset>

<div id="status" role="status" aria-live="polite"></div>
<div id="verdict" role="status" aria-live="polite"></div>

<section id="servers-section" class="hidden">
  <h2>ICE servers received</h2>
  <ul id="servers"></ul>
  <small id="expiry"></small>
</section>

<section id="candidates-section" class="hidden">
  <h2>Candidates</h2>
  <table>
    <thead><tr><th>type</th><th>protocol</th><th>address</th><th>server URL</th><th>after</th></tr></thead>
    <tbody id="candidates"></tbody>
  </table>
</section>

<section id="errors-section" class="hidden">
  <h2>Server errors</h2>
  <table>
    <thead><tr><th>server URL</th><th>error</th><th>after</th></tr></thead>
    <tbody id="errors"></tbody>
  </table>
</section>

<script nonce="${nonce}">
"use strict";
(() => {
  const TTL = ${CHECK_TTL_SECONDS};
  const GATHER_TIMEOUT_MS = ${GATHER_TIMEOUT_MS};
  const DEV = document.body.dataset.dev === "true";
  const $ = (id) => document.getElementById(id);
  let running = false;

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function setVerdict(yes) {
    const el = $("verdict");
    el.textContent = "TURN relay reachable: " + (yes ? "yes" : "no");
    el.className = yes ? "yes" : "no";
  }

  function row(tbody, cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = cell.text;
      if (cell.className) td.className = cell.className;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }

  async function devToken() {
    const sub = $("subject").value.trim() || "connectivity-check";
    const res = await fetch("/v1/dev/jwt?sub=" + encodeURIComponent(sub), { cache: "no-store" });
    if (!res.ok) throw new Error("could not mint a dev JWT (HTTP " + res.status + ")");
    return (await res.json()).result.token;
  }

  async function fetchIceServers(token) {
    // A JWT has three dot-separated parts; anything else is treated as an internal caller token.
    const isJwt = token.split(".").length === 3;
    const body = isJwt ? { ttl: TTL } : { subject: $("subject").value.trim(), ttl: TTL };
    const res = await fetch("/v1/ice-servers", {
      method: "POST",
      cache: "no-store",
      headers: { authorization: "Bearer " + token, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const message = data && data.errors && data.errors[0] ? data.errors[0].message : "no details";
      throw new Error("POST /v1/ice-servers answered HTTP " + res.status + ": " + message);
    }
    return data;
  }

  function candidateFields(candidate) {
    // Fallback parse of the SDP line for browsers without the typed fields.
    const parts = (candidate.candidate || "").split(" ");
    const typIndex = parts.indexOf("typ");
    return {
      type: candidate.type || (typIndex > 0 ? parts[typIndex + 1] : "unknown"),
      protocol: candidate.protocol || parts[2] || "",
      address: (candidate.address || parts[4] || "") + ":" + (candidate.port || parts[5] || ""),
    };
  }

  function gather(iceServers) {
    return new Promise((resolve) => {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started) + " ms";
      const found = { host: 0, srflx: 0, prflx: 0, relay: 0 };
      const pc = new RTCPeerConnection({ iceServers, iceCandidatePoolSize: 0 });
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        pc.close();
        resolve({ found, total: elapsed() });
      };
      const timer = setTimeout(finish, GATHER_TIMEOUT_MS);
      pc.addEventListener("icecandidate", (event) => {
        if (!event.candidate) return finish();
        if (!event.candidate.candidate) return;
        const f = candidateFields(event.candidate);
        found[f.type] = (found[f.type] || 0) + 1;
        const url = event.url || event.candidate.url || (f.type === "host" ? "(local interface)" : "");
        row($("candidates"), [
          { text: f.type, className: "type-" + f.type },
          { text: f.protocol },
          { text: f.address, className: "mono" },
          { text: url, className: "mono" },
          { text: elapsed() },
        ]);
      });
      pc.addEventListener("icecandidateerror", (event) => {
        $("errors-section").classList.remove("hidden");
        row($("errors"), [
          { text: event.url || "", className: "mono" },
          { text: event.errorCode + " " + (event.errorText || "") },
          { text: elapsed() },
        ]);
      });
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") finish();
      });
      pc.createDataChannel("turnvend-probe");
      pc.createOffer()
        .then((offer) => pc.setLocalDescription(offer))
        .catch((err) => {
          setStatus("ICE gathering failed to start: " + err.message, true);
          finish();
        });
    });
  }

  async function run() {
    if (running) return;
    running = true;
    $("run").disabled = true;
    $("verdict").textContent = "";
    $("verdict").className = "";
    $("candidates").replaceChildren();
    $("errors").replaceChildren();
    $("servers").replaceChildren();
    $("errors-section").classList.add("hidden");
    try {
      let token = $("token").value.trim();
      if (!token && DEV) {
        setStatus("Minting a dev JWT…");
        token = await devToken();
      }
      if (!token) throw new Error("paste a token first");
      setStatus("Asking turnvend for ICE servers…");
      const vended = await fetchIceServers(token);
      $("servers-section").classList.remove("hidden");
      for (const server of vended.iceServers) {
        for (const url of server.urls) {
          const li = document.createElement("li");
          li.className = "mono";
          li.textContent = url + (server.username ? "  (with credentials)" : "");
          $("servers").appendChild(li);
        }
      }
      $("expiry").textContent = "Credentials valid for " + vended.ttl + " s, until " + vended.expiresAt + ".";
      $("candidates-section").classList.remove("hidden");
      setStatus("Gathering ICE candidates…");
      const result = await gather(vended.iceServers);
      setStatus("Gathering finished after " + result.total + ": " + result.found.host + " host, " + result.found.srflx + " srflx, " + result.found.relay + " relay.");
      setVerdict(result.found.relay > 0);
    } catch (err) {
      setStatus(err instanceof Error ? err.message : String(err), true);
      setVerdict(false);
    } finally {
      running = false;
      $("run").disabled = false;
    }
  }

  $("run").addEventListener("click", run);
  if (DEV) {
    $("dev-note").classList.remove("hidden");
    run();
  }
})();
</script>
</body>
</html>
`;
}
