// The connectivity page's script (public/index.html): gets credentials from turnvend, runs ICE gathering
// with them, and lists every candidate with its server URL and timing, then the verdict. Nothing from the
// network is ever written as HTML (textContent only). Served as a static asset under a CSP that allows
// only this origin's scripts, so no inline code runs on the page.

(() => {
  // Credential lifetime the page asks for: the check takes seconds, so the policy minimum is plenty.
  const TTL = 60;
  // ICE gathering stops after this long even if the browser never reports "complete".
  const GATHER_TIMEOUT_MS = 15000;
  // Local development mints dev JWTs at /v1/dev/jwt; everywhere else that route is a 404 (see start()).
  let devMode = false;
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
      const message = data?.errors?.[0] ? data.errors[0].message : "no details";
      throw new Error("POST /v1/ice-servers answered HTTP " + res.status + ": " + message);
    }
    return data;
  }

  // Which TURN provider served the check (TURN_PROVIDER_MODE), and whether the preferred one failed.
  function providerText(vended) {
    const names = {
      cloudflare: "Cloudflare",
      "self-hosted": "self-hosted TURN servers",
      both: "Cloudflare and self-hosted TURN servers",
    };
    const name = names[vended.provider] || "unknown";
    const hasTurn = vended.iceServers.some((s) => s.username);
    if (!vended.degraded) return "Served by: " + name + ".";
    return hasTurn
      ? "Served by: " + name + " (degraded: the preferred provider failed, this is the fallback)."
      : "Served by: " + name + " (degraded: STUN only, no TURN provider could be reached).";
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
    $("provider").textContent = "";
    $("errors-section").classList.add("hidden");
    try {
      let token = $("token").value.trim();
      if (!token && devMode) {
        setStatus("Minting a dev JWT…");
        token = await devToken();
      }
      if (!token) throw new Error("paste a token first");
      setStatus("Asking turnvend for ICE servers…");
      const vended = await fetchIceServers(token);
      $("servers-section").classList.remove("hidden");
      $("provider").textContent = providerText(vended);
      $("provider").className = vended.degraded ? "error" : "";
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
      setStatus(
        "Gathering finished after " +
          result.total +
          ": " +
          result.found.host +
          " host, " +
          result.found.srflx +
          " srflx, " +
          result.found.relay +
          " relay.",
      );
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
  // In local development the check runs by itself with a dev JWT; elsewhere it waits for a pasted token.
  // Only a page on a loopback address asks, so a deployed page costs no Worker invocation on load.
  async function start() {
    if (!["localhost", "127.0.0.1", "[::1]"].includes(location.hostname)) return;
    try {
      await devToken();
    } catch {
      return;
    }
    devMode = true;
    $("dev-note").classList.remove("hidden");
    run();
  }
  start();
})();
