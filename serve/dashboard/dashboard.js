// rltrade's dashboard: plain JavaScript, no build step. Every text from the server is
// set with textContent (never as HTML). Control requests carry the token typed into the
// page, and only those requests. Live updates: GET /events (server-sent events, read
// with fetch so a read token can be sent); each `commit` event refreshes the panels,
// the charts by their new bars only. A dropped stream is retried with backoff; the
// first event after a reconnect is the current commit, so the page catches up.
"use strict";

(function () {
  // ---- errors the browser tests read (WebDriver has no log API) ----
  const errors = [];
  const state = {
    mode: null,
    points: { price: 0, markers: 0, equity: {}, drawdown: {} },
    refreshes: 0,
    auth: null,
    events: 0,
    lastCommit: null,
  };
  window.__rltrade = { errors: errors, state: state };
  const originalError = console.error.bind(console);
  console.error = function (...args) {
    errors.push(args.map(String).join(" "));
    originalError(...args);
  };
  window.addEventListener("error", (e) => errors.push("error: " + e.message));
  window.addEventListener("unhandledrejection", (e) => errors.push("unhandled rejection: " + String(e.reason)));
  document.addEventListener("securitypolicyviolation", (e) =>
    errors.push("CSP violation: " + e.violatedDirective + " " + e.blockedURI));

  const $ = (id) => document.getElementById(id);
  const COLORS = ["#2962ff", "#e8710a", "#1b7f3b", "#a142f4", "#d81b60", "#00838f", "#6d4c41", "#5f6368"];
  const colorOf = new Map();
  function color(name) {
    if (!colorOf.has(name)) colorOf.set(name, COLORS[colorOf.size % COLORS.length]);
    return colorOf.get(name);
  }

  // ---- formatting ----
  function num(v, digits) {
    return v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits);
  }
  function pct(v) {
    return v === null || v === undefined ? "–" : (100 * v).toFixed(2) + "%";
  }
  function time(ms) {
    return ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace(":00.000Z", "Z").replace("T", " ");
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  // A table cell: the text shown, and the raw value in data-value for tests and tools.
  function cell(text, raw, cls) {
    const td = el("td", text, cls);
    if (raw !== undefined) td.dataset.value = raw === null ? "null" : String(raw);
    return td;
  }
  function fillBody(table, rows) {
    const body = $(table).tBodies[0];
    body.replaceChildren(...rows);
  }
  function notice(text) {
    const n = $("notice");
    n.textContent = text || "";
    n.hidden = !text;
  }

  // ---- requests ----
  let readToken = sessionStorage.getItem("rltrade-read-token") || "";
  function readHeaders() {
    return readToken ? { Authorization: "Bearer " + readToken } : {};
  }
  // A read refused for want of the read token: the page asks for it and stops reading,
  // so that it spends one of the daemon's failed authentications, not one per retry.
  class ReadTokenNeeded extends Error {}
  function askForReadToken(path) {
    state.auth = "needed";
    $("read-auth").hidden = false;
    $("read-token").focus();
    return new ReadTokenNeeded(path + ": this daemon's reads need its read token (serve.read_token_file); " +
      (readToken ? "the one given was refused" : "type it above"));
  }
  async function get(path) {
    const response = await fetch(path, { headers: readHeaders(), cache: "no-store" });
    if (response.status === 401 || response.status === 403) throw askForReadToken(path);
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try {
        message = (await response.json()).error || message;
      } catch (_) { /* not JSON */ }
      throw new Error(path + ": " + message);
    }
    return response.json();
  }

  // ---- charts ----
  const LC = window.LightweightCharts;
  const charts = {};
  function makeChart(id, options) {
    const chart = LC.createChart($(id), Object.assign({
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#1d232a", attributionLogo: true },
      grid: { vertLines: { color: "#f0f2f4" }, horzLines: { color: "#f0f2f4" } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { borderColor: "#d8dde2" },
    }, options || {}));
    return chart;
  }
  // Keeps the charts of `list` scrolled and zoomed together.
  function syncTimeScales(list) {
    let syncing = false;
    for (const chart of list) {
      chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
        if (syncing || !range) return;
        syncing = true;
        for (const other of list) if (other !== chart) other.timeScale().setVisibleLogicalRange(range);
        syncing = false;
      });
    }
  }
  function initLiveCharts() {
    if (charts.price || !LC) return;
    charts.price = makeChart("price-chart");
    charts.candles = charts.price.addSeries(LC.CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false, wickUpColor: "#26a69a", wickDownColor: "#ef5350",
    });
    charts.markers = LC.createSeriesMarkers(charts.candles, []);
    charts.equity = makeChart("equity-chart");
    charts.drawdown = makeChart("drawdown-chart", {
      localization: { priceFormatter: (v) => (100 * v).toFixed(1) + "%" },
    });
    charts.equityLines = new Map();
    charts.drawdownLines = new Map();
    syncTimeScales([charts.price, charts.equity, charts.drawdown]);
  }
  function lineFor(map, chart, name) {
    if (!map.has(name)) {
      map.set(name, chart.addSeries(LC.LineSeries, { color: color(name), lineWidth: 2, title: name, priceLineVisible: false }));
    }
    return map.get(name);
  }

  // What the charts hold, so updates append only new bars.
  const series = {
    lastBarMs: null, candles: [], equity: new Map(), drawdown: new Map(), markers: [], intervalMs: 0, generation: 0,
  };
  // Forgets what the charts hold; a read in flight from before is then dropped.
  function resetSeries() {
    series.generation += 1;
    series.lastBarMs = null;
    series.candles = [];
    series.equity = new Map();
    series.drawdown = new Map();
    series.markers = [];
  }
  // Entries (and additions, reversals) are arrows, exits (and reductions) circles; a
  // fill for another reason than the strategy's signal is labelled with it.
  const REASON_LABEL = {
    signal: "", liquidation: "liq", stop_loss: "SL", take_profit: "TP", trailing_stop: "TS", max_holding: "time",
  };
  const EXITS = new Set(["exit", "reduce"]);
  function applyChart(view) {
    series.intervalMs = view.interval_ms;
    $("symbol").textContent = view.symbol || "–";
    const fresh = series.lastBarMs === null;
    const candles = view.bars.map((b) => ({ time: b.time_ms / 1000, open: b.open, high: b.high, low: b.low, close: b.close }));
    series.candles.push(...candles);
    for (const s of view.strategies) {
      if (!series.equity.has(s.name)) { series.equity.set(s.name, []); series.drawdown.set(s.name, []); }
      const eq = s.equity.map((p) => ({ time: p.bar_ms / 1000, value: p.equity }));
      const dd = s.equity.map((p) => ({ time: p.bar_ms / 1000, value: p.drawdown }));
      series.equity.get(s.name).push(...eq);
      series.drawdown.get(s.name).push(...dd);
      for (const f of s.fills) {
        const barMs = view.interval_ms > 0 ? Math.floor(f.time_ms / view.interval_ms) * view.interval_ms : f.time_ms;
        const buy = f.side === "buy";
        const label = REASON_LABEL[f.reason] === undefined ? f.reason : REASON_LABEL[f.reason];
        series.markers.push({
          time: barMs / 1000,
          position: buy ? "belowBar" : "aboveBar",
          shape: EXITS.has(f.kind) ? "circle" : buy ? "arrowUp" : "arrowDown",
          color: color(s.name),
          text: label,
        });
      }
      if (charts.price) {
        const eqLine = lineFor(charts.equityLines, charts.equity, s.name);
        const ddLine = lineFor(charts.drawdownLines, charts.drawdown, s.name);
        if (fresh) {
          // the first traded bar has no mark (its close is the starting cash): a blank
          // there keeps the three charts' bars at the same positions
          const lead = series.candles.length && eq.length && series.candles[0].time < eq[0].time
            ? [{ time: series.candles[0].time }] : [];
          eqLine.setData(lead.concat(series.equity.get(s.name)));
          ddLine.setData(lead.concat(series.drawdown.get(s.name)));
        }
        else { for (const p of eq) eqLine.update(p); for (const p of dd) ddLine.update(p); }
      }
      state.points.equity[s.name] = series.equity.get(s.name).length;
      state.points.drawdown[s.name] = series.drawdown.get(s.name).length;
    }
    if (charts.price) {
      if (fresh) charts.candles.setData(series.candles);
      else for (const c of candles) charts.candles.update(c);
      series.markers.sort((a, b) => a.time - b.time);
      charts.markers.setMarkers(series.markers);
      if (fresh && series.candles.length) {
        for (const c of [charts.price, charts.equity, charts.drawdown]) c.timeScale().fitContent();
      }
    }
    state.points.price = series.candles.length;
    state.points.markers = series.markers.length;
    if (view.last_bar_ms !== null) series.lastBarMs = view.last_bar_ms;
    renderLegend("equity-legend", view.strategies.map((s) => s.name));
  }
  function renderLegend(id, names) {
    $(id).replaceChildren(...names.map((name) => {
      const item = el("span");
      const swatch = el("span", null, "swatch");
      swatch.style.background = color(name);
      item.append(swatch, document.createTextNode(name));
      return item;
    }));
  }

  // ---- panels ----
  function renderHealth(health) {
    $("daemon-status").textContent = health.status;
    $("daemon-status").className = health.status === "ok" ? "" : "bad";
    $("feed-status").textContent = health.feed_stale ? "stale" : "fresh";
    $("feed-status").className = health.feed_stale ? "bad" : "";
    $("last-bar").textContent = time(health.last_bar_ms);
    $("halt-line").hidden = !health.halt;
    $("daemon-halt").textContent = health.halt ? JSON.stringify(health.halt) : "";
  }
  function reasonText(reason) {
    if (!reason) return "";
    return typeof reason === "object" ? (reason.kind || "") + " " + JSON.stringify(reason) : String(reason);
  }
  function renderPositions(positions) {
    fillBody("strategies", positions.map((p) => {
      const tr = el("tr");
      tr.dataset.strategy = p.strategy;
      tr.append(
        cell(p.strategy, p.strategy),
        cell(p.trading_state, p.trading_state, "text state-" + p.trading_state),
        cell(reasonText(p.halt_reason), undefined, "wrap"),
        cell(p.kill_switch ? "engaged" : "off", p.kill_switch, p.kill_switch ? "bad" : ""),
        cell(num(p.position, 6), p.position),
        cell(num(p.equity, 2), p.equity),
        cell(pct(p.exposure), p.exposure),
        cell(p.pending_target === null ? "–" : num(p.pending_target, 2), p.pending_target),
      );
      return tr;
    }));
  }
  // The A/B table: each cell's data-value is the JSON number of GET /ab.
  function renderAb(report) {
    fillBody("ab", report.strategies.map((row) => {
      const m = row.metrics || {};
      const tr = el("tr");
      tr.dataset.strategy = row.name;
      const c = (field, value, text) => {
        const td = cell(text, value === undefined ? null : value);
        td.dataset.field = field;
        return td;
      };
      tr.append(
        cell(row.name, row.name),
        c("final_equity", row.final_equity, num(row.final_equity, 2)),
        c("total_return", m.total_return, pct(m.total_return)),
        c("sharpe", m.sharpe, num(m.sharpe, 3)),
        c("sortino", m.sortino, num(m.sortino, 3)),
        c("max_drawdown", m.max_drawdown, pct(m.max_drawdown)),
        c("cagr", m.cagr, pct(m.cagr)),
        c("calmar", m.calmar, num(m.calmar, 3)),
        c("num_trades", m.num_trades, m.num_trades === undefined ? "–" : String(m.num_trades)),
        c("win_rate", m.win_rate, pct(m.win_rate)),
        c("turnover", m.turnover, num(m.turnover, 2)),
        c("fees_paid", m.fees_paid, num(m.fees_paid, 2)),
        c("num_fills", row.num_fills, String(row.num_fills)),
        c("num_orders", row.num_orders, String(row.num_orders)),
        c("num_refusals", row.num_refusals, String(row.num_refusals)),
      );
      return tr;
    }));
  }
  function renderSignals(signals) {
    fillBody("signals", signals.map((s) => {
      const tr = el("tr");
      tr.append(
        cell(time(s.bar_ms)),
        cell(s.strategy, undefined, "text"),
        cell(String(s.action)),
        cell(num(s.target_exposure, 2)),
        cell(s.probs.length ? s.probs.map((p) => p.toFixed(3)).join(" ") : "–", undefined, "text"),
        cell(String(s.latency_us), s.latency_us),
        cell(s.invalid_output ? "yes" : "", undefined, s.invalid_output ? "bad" : ""),
      );
      return tr;
    }));
  }
  function renderActivity(activity) {
    fillBody("orders", activity.orders.map((o) => {
      const tr = el("tr");
      tr.append(cell(time(o.decided_bar_ms)), cell(o.strategy, undefined, "text"), cell(String(o.order_id)),
        cell(o.reason, undefined, "text"), cell(num(o.target_exposure, 2)), cell(o.status, undefined, "text"),
        cell(o.status_reason || "", undefined, "wrap"));
      return tr;
    }));
    fillBody("fills", activity.fills.map((f) => {
      const tr = el("tr");
      tr.append(cell(time(f.time_ms)), cell(f.strategy, undefined, "text"), cell(f.kind, undefined, "text"),
        cell(f.reason, undefined, "text"), cell(f.side, undefined, "text"), cell(num(f.quantity, 6)),
        cell(num(f.price, 2)), cell(num(f.fee, 4)));
      return tr;
    }));
    fillBody("refusals", activity.refusals.map((r) => {
      const tr = el("tr");
      tr.append(cell(time(r.bar_ms)), cell(r.strategy, undefined, "text"), cell(num(r.requested, 2)),
        cell(r.reason, undefined, "wrap"));
      return tr;
    }));
    fillBody("events", activity.events.map((e) => {
      const tr = el("tr");
      tr.append(cell(time(e.bar_ms)), cell(e.strategy || "all", undefined, "text"), cell(e.kind, undefined, "text"),
        cell(e.message, undefined, "wrap"));
      return tr;
    }));
  }

  // ---- the live page: one refresh at a time, another queued while one runs ----
  let refreshing = null;
  let again = false;
  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      do {
        again = false;
        const generation = series.generation;
        const after = series.lastBarMs === null ? "" : "?after=" + series.lastBarMs;
        const live = state.mode.mode === "live";
        const [health, positions, ab, chart, signals, activity] = await Promise.all([
          live ? get("/health") : null,
          live ? get("/positions") : null,
          get("/ab"),
          get("/chart" + after),
          get("/signals?limit=20"),
          get("/activity?limit=20"),
        ]);
        if (generation !== series.generation) {
          // the charts were reset while this read ran: read again from the start
          again = true;
          continue;
        }
        if (health) renderHealth(health);
        if (positions) renderPositions(positions);
        renderAb(ab);
        applyChart(chart);
        renderSignals(signals);
        renderActivity(activity);
        state.refreshes += 1;
        notice("");
      } while (again);
    })();
    try {
      await refreshing;
    } catch (e) {
      notice(e.message);
      throw e;
    } finally {
      refreshing = null;
    }
  }

  function setConnection(text) {
    $("connection").dataset.state = text;
    $("connection").textContent = text;
  }

  // Reads GET /events until it ends; resolves on a clean end, rejects on an error.
  async function readEvents(onEvent) {
    const response = await fetch("/events", { headers: readHeaders(), cache: "no-store" });
    if (response.status === 401 || response.status === 403) throw askForReadToken("/events");
    if (!response.ok || !response.body) throw new Error("GET /events: " + response.status);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) onEvent(name, data);
      }
    }
  }

  // Follows the daemon for as long as the page is open: on every (re)connection the
  // charts are reloaded whole, since a restarted daemon may have a new journal.
  async function follow() {
    let delay = 500;
    for (;;) {
      try {
        let first = true;
        await readEvents((name, data) => {
          if (name !== "commit") return;
          state.events += 1;
          state.lastCommit = JSON.parse(data);
          setConnection("live");
          delay = 500;
          if (first) { first = false; resetSeries(); resetCharts(); }
          refresh().catch(() => {});
        });
        setConnection("reconnecting");
        notice("The daemon closed the event stream; reconnecting.");
      } catch (e) {
        if (e instanceof ReadTokenNeeded) {
          setConnection("needs read token");
          notice(e.message);
          return;
        }
        setConnection("reconnecting");
        notice("Lost the daemon (" + e.message + "); reconnecting.");
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
  function resetCharts() {
    if (!charts.price) return;
    charts.candles.setData([]);
    charts.markers.setMarkers([]);
    for (const line of charts.equityLines.values()) line.setData([]);
    for (const line of charts.drawdownLines.values()) line.setData([]);
  }

  // ---- control: the token goes with this one request only ----
  async function control(path, label) {
    const out = $("control-result");
    const token = $("control-token").value;
    if (!token) {
      out.textContent = label + ": type the control token first";
      out.dataset.outcome = "refused";
      return;
    }
    let response;
    try {
      response = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    } catch (e) {
      out.textContent = label + " failed: " + e.message;
      out.dataset.outcome = "refused";
      return;
    }
    let body = {};
    try { body = await response.json(); } catch (_) { /* empty */ }
    if (response.ok) {
      out.textContent = label + ": done";
      out.dataset.outcome = "done";
      refresh().catch(() => {});
    } else {
      const why = response.status === 401 || response.status === 403 ? "wrong token" : body.error || response.statusText;
      out.textContent = label + " refused (" + response.status + "): " + why;
      out.dataset.outcome = "refused";
    }
  }

  // ---- model and latency pages ----
  function definitionList(value) {
    const dl = el("dl", null, "card");
    for (const [key, v] of Object.entries(value)) {
      dl.append(el("dt", key));
      const dd = el("dd");
      if (v !== null && typeof v === "object" && !Array.isArray(v)) dd.append(definitionList(v));
      else if (Array.isArray(v) && v.some((x) => x !== null && typeof x === "object")) {
        v.forEach((x) => dd.append(typeof x === "object" ? definitionList(x) : el("div", JSON.stringify(x))));
      } else dd.textContent = Array.isArray(v) ? v.map((x) => (typeof x === "number" ? x : String(x))).join(", ") : String(v);
      dl.append(dd);
    }
    return dl;
  }
  async function showModels() {
    const models = await get("/models");
    $("models").replaceChildren(...models.map((m) => {
      const box = el("div");
      box.append(el("h3", m.strategy + " (" + m.kind.replace("_", " ") + ")"));
      if (m.kind === "ma_crossover") box.append(el("p", "MA crossover, fast " + m.ma_periods[0] + " and slow " + m.ma_periods[1] + " bars."));
      if (m.sha256) box.append(el("p", "ONNX SHA-256 " + m.sha256 + (m.path ? " · " + m.path : "")));
      if (m.card_error) box.append(el("p", m.card_error, "bad"));
      if (m.card) box.append(definitionList(m.card));
      return box;
    }));
  }
  async function showLatency() {
    const view = await get("/latency");
    fillBody("latency", view.strategies.map((r) => {
      const tr = el("tr");
      tr.append(cell(r.strategy, r.strategy), cell(String(r.count), r.count), cell(String(r.p50_us), r.p50_us),
        cell(String(r.p90_us), r.p90_us), cell(String(r.p99_us), r.p99_us), cell(String(r.p999_us), r.p999_us),
        cell(String(r.max_us), r.max_us), cell(num(r.mean_us, 1), r.mean_us));
      return tr;
    }));
  }

  // ---- offline pages: training runs and reports ----
  function stepChart(id) {
    // steps and bar indices drawn on a time axis: one "second" per unit, labelled as numbers
    return makeChart(id, {
      localization: { timeFormatter: (t) => String(t) },
      timeScale: { tickMarkFormatter: (t) => String(t) },
    });
  }
  async function showRuns() {
    const runs = await get("/runs");
    fillBody("runs", runs.map((r) => {
      const tr = el("tr", null, "selectable");
      tr.dataset.run = r.name;
      tr.append(cell(r.name, r.name), cell(String(r.steps), r.steps), cell(String(r.validations), r.validations),
        cell(num(r.best_val_sharpe, 3), r.best_val_sharpe), cell(num(r.last_mean_return, 4), r.last_mean_return));
      tr.addEventListener("click", () => showRun(r.name).catch((e) => notice(e.message)));
      return tr;
    }));
    if (runs.length) await showRun(runs[0].name);
  }
  async function showRun(name) {
    const curves = await get("/run?name=" + encodeURIComponent(name));
    for (const tr of $("runs").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.run === name);
    $("run-title").textContent = "Learning curves: " + name;
    if (charts.run) charts.run.remove();
    if (!LC) return;
    charts.run = stepChart("run-chart");
    state.points.run = {};
    for (const curve of curves.curves) {
      const line = charts.run.addSeries(LC.LineSeries, {
        color: color(curve.name), lineWidth: 2, title: curve.name, priceLineVisible: false,
        priceScaleId: curve.scale,
      });
      line.setData(curve.points.map(([step, value]) => ({ time: step, value: value })));
      state.points.run[curve.name] = curve.points.length;
    }
    charts.run.timeScale().fitContent();
    renderLegend("run-legend", curves.curves.map((c) => c.name));
  }
  async function showReports() {
    const reports = await get("/reports");
    fillBody("reports", reports.map((r) => {
      const tr = el("tr", null, "selectable");
      tr.dataset.report = r.name;
      tr.append(cell(r.name, r.name), cell(r.kind, undefined, "text"), cell(time(r.start_ms) + " → " + time(r.end_ms), undefined, "text"),
        cell(String(r.arms.length), r.arms.length));
      tr.addEventListener("click", () => showReport(r.name).catch((e) => notice(e.message)));
      return tr;
    }));
    if (reports.length) await showReport(reports[0].name);
  }
  async function showReport(name) {
    const report = await get("/report?name=" + encodeURIComponent(name));
    for (const tr of $("reports").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.report === name);
    $("report-title").textContent = "Equity by arm: " + name;
    if (charts.report) charts.report.remove();
    state.points.report = {};
    if (LC) {
      charts.report = makeChart("report-chart");
      for (const arm of report.arms) {
        const line = charts.report.addSeries(LC.LineSeries, { color: color(arm.name), lineWidth: 2, title: arm.name, priceLineVisible: false });
        line.setData(arm.equity.map(([ms, value]) => ({ time: ms / 1000, value: value })));
        state.points.report[arm.name] = arm.equity.length;
      }
      charts.report.timeScale().fitContent();
    }
    renderLegend("report-legend", report.arms.map((a) => a.name));
    fillBody("report-arms", report.arms.map((a) => {
      const tr = el("tr");
      tr.dataset.arm = a.name;
      tr.append(cell(a.name, a.name), cell(num(a.sharpe, 3), a.sharpe), cell(pct(a.total_return), a.total_return),
        cell(pct(a.max_drawdown), a.max_drawdown), cell(num(a.turnover, 2), a.turnover), cell(num(a.num_trades, 1), a.num_trades));
      return tr;
    }));
  }

  // ---- navigation ----
  const shown = new Set();
  function pageAvailable(page) {
    const mode = state.mode;
    if (mode.mode === "live") return page === "live" || page === "model" || page === "latency";
    if (page === "runs" || page === "reports") return mode.runs;
    return mode.journal;
  }
  async function show() {
    let page = (location.hash || "#").slice(1);
    if (!pageAvailable(page)) page = ["live", "runs"].find(pageAvailable) || "live";
    for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.page !== page;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
    try {
      if (page === "model") await showModels();
      else if (page === "latency") await showLatency();
      else if (page === "runs" && !shown.has("runs")) await showRuns();
      else if (page === "reports" && !shown.has("reports")) await showReports();
      shown.add(page);
    } catch (e) {
      notice(e.message);
    }
  }

  async function main() {
    state.mode = await get("/about");
    if (!state.mode.charts) {
      notice("This binary was built without lightweight-charts: run " + state.mode.install_charts +
        ", then build again. Tables work; charts are not drawn.");
    }
    for (const a of document.querySelectorAll("#nav a")) a.hidden = !pageAvailable(a.dataset.page);
    $("controls").hidden = state.mode.mode !== "live";
    $("kill").addEventListener("click", () => control("/kill", "Kill switch"));
    $("kill-flatten").addEventListener("click", () => control("/kill?flatten=true", "Kill and flatten"));
    $("resume").addEventListener("click", () => control("/resume", "Resume"));
    $("read-auth").addEventListener("submit", (e) => {
      e.preventDefault();
      readToken = $("read-token").value;
      sessionStorage.setItem("rltrade-read-token", readToken);
      location.reload();
    });
    if (state.mode.mode === "live") {
      // one read first: without the read token the page asks for it and reads nothing more
      try {
        await get("/positions");
      } catch (e) {
        if (e instanceof ReadTokenNeeded) setConnection("needs read token");
        throw e;
      }
      state.auth = "ok";
    }
    window.addEventListener("hashchange", show);
    if (pageAvailable("live") && LC) initLiveCharts();
    await show();
    if (state.mode.mode === "live") {
      setConnection("connecting");
      follow();
    } else {
      setConnection("offline");
      if (state.mode.journal) await refresh();
    }
  }
  main().catch((e) => notice(e.message));
})();
