// The usage page's script (public/usage.html): reads GET /v1/usage with a caller token and draws this month's
// egress per hour (a hand-written SVG, with a table of the same numbers), the burn against the account budget,
// the guard's state, the top users and the blocked users. Nothing from the network is ever written as HTML
// (textContent and attributes only). Served under a CSP that allows only this origin's scripts and styles and
// no inline code. The token goes only into the Authorization header of same-origin requests and, at most, into
// this tab's sessionStorage: never into a URL.

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const STORAGE_KEY = "turnvend.usage.token";
  // The cron ingests every 5 minutes; data older than three runs means ingestion is behind or failing.
  const STALE_AFTER_SECONDS = 15 * 60;
  const REFRESH_MS = 60_000;
  const HOUR_MS = 3_600_000;
  const $ = (id) => document.getElementById(id);
  let token = "";
  let timer;

  // Decimal units, as Cloudflare bills egress per GB.
  function formatBytes(n) {
    if (typeof n !== "number" || !Number.isFinite(n)) return "–";
    const units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let i = 0;
    let v = n;
    while (Math.abs(v) >= 1000 && i < units.length - 1) {
      v /= 1000;
      i++;
    }
    const digits = i === 0 ? 0 : Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
    return v.toFixed(digits) + " " + units[i];
  }

  // ISO timestamps as "2026-12-03 10:25 UTC": the API counts in UTC (the budget's month is a UTC month).
  function formatTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function formatAge(seconds) {
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h";
    return Math.round(seconds / 86400) + " days";
  }

  function setStatus(text, kind) {
    $("status").textContent = text;
    $("status").className = kind || "";
  }

  function el(name, attrs, text) {
    const node = name.startsWith("svg:") ? document.createElementNS(SVG, name.slice(4)) : document.createElement(name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function row(tbody, cells) {
    const tr = el("tr");
    for (const cell of cells) {
      const td = el("td", cell.attrs, cell.text);
      if (cell.className) td.className = cell.className;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }

  function bytesCell(n) {
    return { text: formatBytes(n), className: "num", attrs: { "data-bytes": n } };
  }

  // --- the pieces of the report ---------------------------------------------------------------------------

  function renderState(data) {
    const guard = data.guard;
    const guardEl = $("guard-state");
    if (guard.vending === "open") {
      guardEl.textContent =
        "open" +
        (guard.lifted_until ? " (the budget stop is lifted until " + formatTime(guard.lifted_until) + ")" : "");
      guardEl.className = "ok";
    } else {
      const why =
        guard.reason === "kill_switch"
          ? "the kill switch is on"
          : guard.reason === "account_budget"
            ? "the account's monthly egress budget is used up"
            : "stopped";
      guardEl.textContent = "stopped: " + why + ". New credentials are refused (503).";
      guardEl.className = "bad";
    }
    if (guard.kill_switch && guard.reason !== "kill_switch") guardEl.textContent += " The kill switch is on.";
    guardEl.dataset.vending = guard.vending;

    const ageEl = $("data-age");
    if (data.as_of === null) {
      ageEl.textContent = "no usage data yet: the cron has not ingested any (it runs every 5 minutes).";
      ageEl.className = "warn";
    } else {
      const stale = data.age_seconds !== null && data.age_seconds > STALE_AFTER_SECONDS;
      ageEl.textContent =
        "as of " +
        formatTime(data.as_of) +
        (data.age_seconds === null ? "" : ", " + formatAge(data.age_seconds) + " old") +
        (stale ? ": stale, the figures below may be behind." : "");
      ageEl.className = stale ? "warn" : "";
    }
    ageEl.dataset.stale = String(data.as_of === null || data.age_seconds > STALE_AFTER_SECONDS);

    const a = data.analytics;
    const anEl = $("analytics-state");
    if (a.ok) {
      anEl.textContent = "working; last read " + formatTime(a.last_success_at) + ".";
      anEl.className = "ok";
    } else if (a.last_attempt_at === null) {
      anEl.textContent = "not read yet.";
      anEl.className = "warn";
    } else {
      anEl.textContent =
        "failing since the last success (" +
        formatTime(a.last_success_at) +
        "); last attempt " +
        formatTime(a.last_attempt_at) +
        (a.last_error ? ": " + a.last_error : "") +
        ". The guard keeps its last known state.";
      anEl.className = "bad";
    }
    anEl.dataset.ok = String(a.ok);
  }

  function renderBurn(month) {
    const budget = month.budget_bytes;
    const burn = $("burn-text");
    const bar = $("burn-bar");
    bar.replaceChildren();
    const used = formatBytes(month.egress_bytes);
    const ingress = "; ingress " + formatBytes(month.ingress_bytes);
    if (budget === null) {
      burn.textContent =
        "Egress since " +
        formatTime(month.start) +
        ": " +
        used +
        ingress +
        ". No account budget is set (EGRESS_BUDGET_ACCOUNT_GB_PER_MONTH).";
    } else {
      const percent = month.used_percent ?? (month.egress_bytes / budget) * 100;
      burn.textContent =
        "Egress since " +
        formatTime(month.start) +
        ": " +
        used +
        " of the " +
        formatBytes(budget) +
        " budget (" +
        percent.toFixed(1) +
        " %)" +
        ingress +
        ".";
      bar.appendChild(burnBar(month.egress_bytes, month.projected_egress_bytes, budget));
    }
    burn.dataset.egressBytes = month.egress_bytes;
    const projected = $("projection-text");
    const over = budget !== null && month.projected_egress_bytes > budget;
    projected.textContent =
      "Projected by the end of the month, at this month's rate: " +
      formatBytes(month.projected_egress_bytes) +
      (budget === null
        ? "."
        : " (" +
          ((month.projected_egress_bytes / budget) * 100).toFixed(0) +
          " % of the budget)" +
          (over ? ": over the budget." : "."));
    projected.className = over ? "warn" : "";
    projected.dataset.projectedBytes = month.projected_egress_bytes;
  }

  // A horizontal bar: the budget's length outlined, the used part filled, the projection a dashed marker, each
  // labelled below. The scale stretches to the projection when it passes the budget.
  function burnBar(used, projected, budget) {
    const W = 760;
    const H = 48;
    const barH = 22;
    const scale = Math.max(budget, projected, used);
    const x = (n) => 1 + (Math.min(n, scale) / scale) * (W - 2);
    const svg = el("svg:svg", {
      viewBox: "0 0 " + W + " " + H,
      class: "burn",
      role: "img",
      "aria-label":
        "Used " + formatBytes(used) + " of the " + formatBytes(budget) + " budget; projected " + formatBytes(projected),
    });
    svg.appendChild(el("svg:rect", { x: 1, y: 1, width: x(budget) - 1, height: barH, class: "budget" }));
    const usedClass = used > budget ? "used over" : "used";
    svg.appendChild(el("svg:rect", { x: 1, y: 1, width: x(used) - 1, height: barH, class: usedClass }));
    svg.appendChild(el("svg:line", { x1: x(projected), x2: x(projected), y1: 0, y2: barH + 4, class: "projected" }));
    const label = (at, text, cls) => {
      const anchor = at < W * 0.15 ? "start" : at > W * 0.85 ? "end" : "middle";
      svg.appendChild(el("svg:text", { x: at, y: H - 4, class: cls, "text-anchor": anchor }, text));
    };
    label(x(budget), "budget " + formatBytes(budget), "axis");
    // Two labels close together would overlap: the projection's is left out, the text above gives it.
    if (Math.abs(x(projected) - x(budget)) > 150)
      label(x(projected), "projected " + formatBytes(projected), "axis warn-text");
    return svg;
  }

  // Egress per hour over the month so far (UTC): one bar per hour with egress, placed by its start. The API
  // lists every hour of the month so far; hours without egress get no bar and no table row. The axis spans
  // the hours listed (a day at least), so early in the month the bars are wide enough to read.
  function renderChart(month, allHours) {
    const series = allHours.filter((s) => s.egress_bytes > 0);
    const chart = $("chart");
    chart.replaceChildren();
    const tbody = $("series-rows");
    tbody.replaceChildren();
    const start = Date.parse(month.start);
    const slotOf = (s) => Math.floor((Date.parse(s.start) - start) / HOUR_MS);
    const hours = Math.max(24, allHours.length, ...allHours.map((s) => slotOf(s) + 1));
    const days = Math.ceil(hours / 24);
    const max = Math.max(0, ...series.map((s) => s.egress_bytes));
    const total = series.reduce((sum, s) => sum + s.egress_bytes, 0);

    const W = 760;
    const H = 240;
    const left = 70;
    const bottom = 22;
    const plotW = W - left - 8;
    const plotH = H - bottom - 10;
    const top = niceCeiling(max);
    const svg = el("svg:svg", {
      viewBox: "0 0 " + W + " " + H,
      class: "chart",
      role: "img",
      "aria-labelledby": "chart-title chart-desc",
      "data-bars": series.length,
      "data-hours": allHours.length,
      "data-total-egress-bytes": total,
    });
    svg.appendChild(el("svg:title", { id: "chart-title" }, "Egress per hour this month"));
    svg.appendChild(
      el(
        "svg:desc",
        { id: "chart-desc" },
        series.length +
          " hours with data, " +
          formatBytes(total) +
          " in all, at most " +
          formatBytes(max) +
          " in one hour. The table below lists every hour.",
      ),
    );
    // Horizontal grid lines with their values.
    for (let i = 0; i <= 4; i++) {
      const value = (top * i) / 4;
      const y = 10 + plotH - (plotH * i) / 4;
      svg.appendChild(el("svg:line", { x1: left, x2: W - 8, y1: y, y2: y, class: "grid" }));
      svg.appendChild(
        el("svg:text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, formatBytes(value)),
      );
    }
    // A tick at the start of each day, labelled with its date at most eight times.
    const every = Math.ceil(days / 8);
    for (let day = 0; day < days; day++) {
      const x = left + ((day * 24) / hours) * plotW;
      svg.appendChild(el("svg:line", { x1: x, x2: x, y1: 10 + plotH, y2: 10 + plotH + 4, class: "tick" }));
      if (day % every !== 0) continue;
      const label = new Date(start + day * 86_400_000).toUTCString().slice(5, 11);
      svg.appendChild(el("svg:text", { x: x + 2, y: H - 4, class: "axis", "text-anchor": "start" }, label));
    }
    const barW = Math.max(1, (plotW / hours) * 0.8);
    for (const s of series) {
      const slot = slotOf(s);
      const h = top > 0 ? (s.egress_bytes / top) * plotH : 0;
      const bar = el("svg:rect", {
        x: left + (slot / hours) * plotW,
        y: 10 + plotH - h,
        width: barW,
        height: h,
        class: "bar",
        "data-start": s.start,
        "data-egress-bytes": s.egress_bytes,
      });
      bar.appendChild(el("svg:title", {}, formatTime(s.start) + ": " + formatBytes(s.egress_bytes)));
      svg.appendChild(bar);
      row(tbody, [{ text: formatTime(s.start) }, bytesCell(s.egress_bytes), bytesCell(s.ingress_bytes)]);
    }
    svg.appendChild(el("svg:line", { x1: left, x2: W - 8, y1: 10 + plotH, y2: 10 + plotH, class: "baseline" }));
    chart.appendChild(svg);
    $("chart-caption").textContent =
      series.length === 0
        ? "No egress recorded this month yet."
        : "Egress per hour, the month's days (UTC) along the bottom: " +
          formatBytes(total) +
          " in " +
          series.length +
          " hours.";
  }

  // The smallest 1, 2 or 5 times a power of ten at or above n (a round top for the y axis).
  function niceCeiling(n) {
    if (n <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(n));
    for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
    return 10 * p;
  }

  function renderUsers(data) {
    const top = $("top-rows");
    top.replaceChildren();
    for (const u of data.top_users) {
      row(top, [
        { text: u.user, className: "mono" },
        bytesCell(u.egress_bytes_24h),
        bytesCell(u.egress_bytes_month),
        { text: u.blocked ? "yes" : "no", className: u.blocked ? "bad" : "" },
      ]);
    }
    $("top-table").classList.toggle("hidden", data.top_users.length === 0);
    $("top-empty").classList.toggle("hidden", data.top_users.length !== 0);

    const blocked = $("blocked-rows");
    blocked.replaceChildren();
    for (const b of data.blocked_users) {
      row(blocked, [
        { text: b.user, className: "mono" },
        {
          text: b.reason === "leak" ? "suspected leak" : b.reason === "budget" ? "over the per-user budget" : b.reason,
        },
        { text: formatTime(b.since) },
        { text: b.until ? formatTime(b.until) : "until an operator clears it" },
      ]);
    }
    $("blocked-table").classList.toggle("hidden", data.blocked_users.length === 0);
    $("blocked-empty").classList.toggle("hidden", data.blocked_users.length !== 0);
  }

  // --- loading --------------------------------------------------------------------------------------------

  async function load() {
    if (!token) {
      setStatus("Paste a caller token first.", "error");
      return;
    }
    clearTimeout(timer);
    setStatus("Reading GET /v1/usage…");
    let res;
    try {
      res = await fetch("/v1/usage", { cache: "no-store", headers: { authorization: "Bearer " + token } });
    } catch (err) {
      setStatus("turnvend could not be reached: " + (err instanceof Error ? err.message : String(err)), "error");
      return;
    }
    const body = await res.json().catch(() => null);
    if (!res.ok || !body?.result) {
      $("report").classList.add("hidden");
      const message = body?.errors?.[0]?.message || "no details";
      if (res.status === 401) setStatus("The token was refused (401): paste a valid caller token. " + message, "error");
      else if (res.status === 403)
        setStatus("This token may not read usage (403): it needs the usage:read scope. " + message, "error");
      else setStatus("GET /v1/usage answered HTTP " + res.status + ": " + message, "error");
      return;
    }
    const data = body.result;
    renderState(data);
    renderBurn(data.month);
    renderChart(data.month, data.series);
    renderUsers(data);
    $("report").classList.remove("hidden");
    setStatus("Read at " + formatTime(new Date().toISOString()) + "; refreshed every minute while this page is open.");
    timer = setTimeout(load, REFRESH_MS);
  }

  function remember(value) {
    token = value;
    try {
      if (value) sessionStorage.setItem(STORAGE_KEY, value);
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage disabled: the token lives only in this page.
    }
  }

  $("load").addEventListener("click", () => {
    remember($("token").value.trim());
    load();
  });
  $("token").addEventListener("keydown", (event) => {
    if (event.key === "Enter") $("load").click();
  });
  $("forget").addEventListener("click", () => {
    clearTimeout(timer);
    remember("");
    $("token").value = "";
    $("report").classList.add("hidden");
    setStatus("Token forgotten.");
  });

  // Local development: the dev-only route answers the published dev caller token; a deployed turnvend has
  // no such route (404), and only a page on a loopback address asks, so a deployed page costs nothing here.
  async function offerDevToken() {
    if (!["localhost", "127.0.0.1", "[::1]"].includes(location.hostname)) return;
    let dev;
    try {
      const res = await fetch("/v1/dev/caller-token", { cache: "no-store" });
      if (!res.ok) return;
      dev = (await res.json()).result;
    } catch {
      return;
    }
    $("dev-token").classList.remove("hidden");
    $("dev-note").classList.remove("hidden");
    $("dev-token").addEventListener("click", () => {
      $("token").value = dev.token;
      remember(dev.token);
      load();
    });
  }

  try {
    token = sessionStorage.getItem(STORAGE_KEY) || "";
  } catch {
    token = "";
  }
  if (token) {
    $("token").value = token;
    load();
  }
  offerDevToken();
})();
