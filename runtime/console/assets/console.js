// Cairn console: the overview (groups, stopped streams), a stream browser and the trace tree.
// Plain DOM; every value from the log is set as text, never as HTML.
"use strict";

const TOKEN_KEY = "cairn.console.token";
const PAGE = 20;

const $ = (id) => document.getElementById(id);

// el("td", {class: "num", dataset: {seq: 3}}, "text", childNode, ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// 2026-11-30T10:00:00.123456Z as 2026-11-30 10:00:00Z
function shortTime(time) {
  return time.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function json(value, indent) {
  return JSON.stringify(value, null, indent);
}

// -- the token and the server's answers --

const state = { status: null, stream: null, view: "overview" };

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function flash(kind, text) {
  const box = $("flash");
  box.dataset.kind = kind;
  box.textContent = text;
  box.hidden = false;
  clearTimeout(flash.timer);
  if (kind === "ok") flash.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function get(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// An action: POST with the token (if any). The server says what it did, or why it refused.
async function act(name, body, button) {
  const headers = { "Content-Type": "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  if (button) button.disabled = true;
  try {
    const response = await fetch("/api/actions/" + name, { method: "POST", headers, body: json(body) });
    const answer = await response.json().catch(() => ({ error: response.statusText }));
    if (response.ok) flash("ok", answer.message);
    else flash("error", `${name} refused (${response.status}): ${answer.error}`);
  } catch (error) {
    flash("error", `${name} failed: ${error.message}`);
  } finally {
    if (button) button.disabled = false;
    refreshStatus();
  }
}

function confirmThen(question, fn) {
  return (event) => { if (window.confirm(question)) fn(event); };
}

// -- the overview --

function card(label, value, kind) {
  return el("div", { class: "card " + (kind || "") }, el("div", { class: "label" }, label), el("div", { class: "value" }, value));
}

function renderSummary(status) {
  const feed = status.feed;
  let horizon = "flowing";
  if (feed.holder) horizon = `held ${feed.age_seconds.toFixed(1)} s by ${feed.holder.pid ? "pid " + feed.holder.pid : "prepared " + feed.holder.prepared_gid}`;
  else if (feed.held) horizon = "held";
  const lag = status.groups.reduce((sum, g) => sum + g.lag_events, 0);
  const stopped = status.failed_streams.filter((f) => f.stopped).length;
  const next = status.scheduled.next_due ? `, next ${shortTime(status.scheduled.next_due)}` : "";
  $("summary").replaceChildren(...[
    card("Feed horizon", horizon, feed.stalled ? "bad" : feed.held ? "warn" : ""),
    card("Consumer groups", String(status.groups.length)),
    card("Lag (events)", String(lag), lag > 0 ? "warn" : ""),
    card("Stopped streams", String(stopped), stopped > 0 ? "bad" : ""),
    card("Scheduled", `${status.scheduled.pending} waiting${next}`),
    status.undeliverable.length ? card("Undeliverable scheduled", String(status.undeliverable.length), "bad") : null,
  ].filter(Boolean));
}

function renderMode(status) {
  const mode = $("mode");
  if (status.read_only) {
    mode.dataset.mode = "read-only";
    mode.textContent = "read-only";
    mode.title = "Started without CAIRN_CONSOLE_TOKEN: actions are disabled";
  } else {
    mode.dataset.mode = "actions";
    mode.textContent = token() ? "actions: token set" : "actions need the token";
    mode.title = "Actions are sent with the token typed here (kept for this tab only)";
  }
  $("token-form").hidden = status.read_only;
}

function streamLink(stream, seq) {
  const href = "#/stream/" + encodeURIComponent(stream) + (seq ? "?after=" + Math.max(0, seq - 1 - ((seq - 1) % PAGE)) : "");
  return el("a", { href, class: "mono" }, stream);
}

function renderStopped(status) {
  const rows = status.failed_streams.map((f) => {
    const label = f.stopped ? "stopped" : "resuming";
    const disabled = status.read_only || !f.stopped;
    const target = { group: f.group, stream: f.stream_id };
    return el("tr", { dataset: { group: f.group, stream: f.stream_id, state: label } },
      el("td", { class: "mono" }, f.group),
      el("td", {}, streamLink(f.stream_id, f.seq)),
      el("td", { class: "num" }, f.seq),
      el("td", { class: "num" }, f.attempts),
      el("td", { class: "error" }, f.error),
      el("td", {}, el("span", { class: "state", dataset: { state: label } }, label)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "primary", dataset: { action: "resume" }, disabled,
          onclick: (e) => act("resume", target, e.currentTarget) }, "Resume"),
        el("button", { type: "button", class: "danger", dataset: { action: "skip" }, disabled,
          onclick: confirmThen(`Skip seq ${f.seq} of ${f.stream_id} for ${f.group}? The group never handles that event.`,
            (e) => act("skip", target, e.currentTarget)) }, "Skip")));
  });
  $("stopped-rows").replaceChildren(...rows);
  $("stopped").hidden = rows.length === 0;
  $("stopped-empty").hidden = rows.length !== 0;
}

function renderGroups(status) {
  const rows = status.groups.map((g) => {
    const owners = [...new Set(g.slices.map((s) => s.owner).filter(Boolean))];
    // One chip per slice: its lag, or that nobody reads it; the owner and cursor on hover.
    const slices = el("ul", { class: "slices" }, g.slices.map((s) =>
      el("li", { class: s.owner ? "owned" : "nobody", dataset: { slice: s.slice, owner: s.owner },
        title: `slice ${s.slice}: ${s.owner ? "owned by " + s.owner : "no owner"}, cursor ${s.cursor}, ` +
          `lag ${s.lag_events} events (${s.lag_seconds.toFixed(1)} s)` },
      `#${s.slice} `, s.owner ? `lag ${s.lag_events}` : "no owner")));
    const running = g.state === "active";
    const resettable = g.defined && g.group !== "cairn.commands";
    return el("tr", { dataset: { group: g.group, state: g.state } },
      el("td", { class: "mono" }, g.group),
      el("td", {}, el("span", { class: "state", dataset: { state: g.state } }, g.state),
        g.failed_streams.length ? el("div", { class: "hint" }, `${g.failed_streams.length} failed stream(s)`) : null),
      el("td", { class: "num lag" }, `${g.lag_events} events`, el("div", { class: "hint" }, `${g.lag_seconds.toFixed(1)} s`)),
      el("td", {}, slices),
      el("td", { class: "mono" }, owners.length ? owners.join(", ") : "—"),
      el("td", { class: "actions" },
        running
          ? el("button", { type: "button", dataset: { action: "stop" }, disabled: status.read_only,
              onclick: confirmThen(`Stop ${g.group} in every worker?`, (e) => act("stop", { group: g.group }, e.currentTarget)) }, "Stop")
          : el("button", { type: "button", class: "primary", dataset: { action: "resume" }, disabled: status.read_only,
              onclick: (e) => act("resume", { group: g.group }, e.currentTarget) }, "Resume"),
        el("button", { type: "button", class: "danger", dataset: { action: "reset" },
          disabled: status.read_only || !resettable,
          title: resettable ? "Empty the read model and replay history" : "Reset needs the module defining the group (--app)",
          onclick: confirmThen(`Reset ${g.group}? Its read model is emptied and its history replayed.`,
            (e) => act("reset", { group: g.group }, e.currentTarget)) }, "Reset")));
  });
  $("group-rows").replaceChildren(...rows);
  $("groups").hidden = rows.length === 0;
  $("groups-empty").hidden = rows.length !== 0;
}

function renderStatus(status) {
  // Unchanged: keep the rows (a button about to be clicked stays the same element).
  const text = json(status);
  if (text === state.statusText) return;
  state.statusText = text;
  state.status = status;
  renderMode(status);
  renderSummary(status);
  renderStopped(status);
  renderGroups(status);
  document.body.dataset.loaded = "true";
}

async function refreshStatus() {
  try {
    renderStatus(await get("/api/status"));
  } catch (error) {
    flash("error", "status: " + error.message);
  }
}

// Live updates: server-sent events, or polling while the server has no room for another stream.
const live = { source: null, poll: null };

function setLive(mode) {
  const badge = $("live");
  badge.dataset.state = mode;
  badge.textContent = { live: "live", polling: "polling", connecting: "connecting", offline: "offline" }[mode];
}

function connect() {
  const source = new EventSource("/api/events");
  live.source = source;
  source.addEventListener("open", () => {
    setLive("live");
    clearInterval(live.poll);
    live.poll = null;
  });
  source.addEventListener("status", (event) => renderStatus(JSON.parse(event.data)));
  source.addEventListener("failure", (event) => {
    setLive("offline");
    flash("error", "status: " + JSON.parse(event.data).error);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (too many streams) or the server went away: poll, and try streaming again later.
      setLive("polling");
      if (!live.poll) live.poll = setInterval(refreshStatus, 2000);
      setTimeout(connect, 30000);
    } else {
      setLive("connecting");
    }
  });
}

// -- the stream browser --

async function findStreams(prefix) {
  $("stream-prefix").value = prefix;
  const query = new URLSearchParams({ prefix, limit: "50" });
  try {
    const answer = await get("/api/streams?" + query);
    const rows = answer.streams.map((s) => el("tr", { dataset: { stream: s.stream_id } },
      el("td", {}, streamLink(s.stream_id)),
      el("td", {}, s.actor || "—"),
      el("td", { class: "num" }, s.head_seq),
      el("td", { class: "mono" }, shortTime(s.updated_at))));
    $("stream-rows").replaceChildren(...rows);
    $("streams-empty").hidden = rows.length !== 0;
  } catch (error) {
    flash("error", error.message);
  }
}

function pageLink(stream, after) {
  return "#/stream/" + encodeURIComponent(stream) + "?after=" + Math.max(0, after);
}

async function showStream(stream, after) {
  $("stream-view").hidden = false;
  $("stream-title").textContent = stream;
  const query = new URLSearchParams({ id: stream, after: String(after), limit: String(PAGE) });
  let page;
  try {
    page = await get("/api/stream?" + query);
  } catch (error) {
    flash("error", error.message);
    return;
  }
  state.stream = page;
  const head = page.head_seq;
  const last = head > 0 ? Math.floor((head - 1) / PAGE) * PAGE : 0;
  $("stream-about").textContent = (page.actor ? `actor ${page.actor}` : "no loaded module owns this stream") +
    ` · ${head} message(s)`;
  const shown = page.messages.length;
  $("page-info").textContent = shown ? `seq ${page.messages[0].seq}–${page.messages[shown - 1].seq} of ${head}` : `nothing after seq ${after}`;
  const go = (target) => () => { location.hash = pageLink(stream, target); };
  $("page-first").onclick = go(0);
  $("page-prev").onclick = go(after - PAGE);
  $("page-next").onclick = go(page.next_after ?? after);
  $("page-last").onclick = go(last);
  $("page-first").disabled = $("page-prev").disabled = after <= 0;
  $("page-next").disabled = page.next_after === null;
  $("page-last").disabled = after >= last;
  const rows = page.messages.map((m) => {
    const correlation = m.metadata.correlation_id;
    return el("tr", { dataset: { seq: m.seq, id: m.id } },
      el("td", { class: "num" }, m.seq),
      el("td", { class: "mono" }, m.type, m.revision > 1 ? ` (rev ${m.revision})` : ""),
      el("td", { class: "mono" }, m.created_at),
      el("td", {}, el("pre", { class: "json payload" }, json(m.payload, 2))),
      el("td", {}, el("details", {}, el("summary", {}, correlation ? "trace " + correlation.slice(0, 8) : "metadata"),
        el("pre", { class: "json metadata" }, json(m.metadata, 2)))),
      el("td", { class: "actions" },
        correlation ? el("a", { href: "#/trace/" + encodeURIComponent(correlation) }, "trace") : null,
        page.actor ? el("button", { type: "button", dataset: { action: "state" }, onclick: () => showState(stream, m.seq) }, "state") : null));
  });
  $("message-rows").replaceChildren(...rows);
  $("state-panel").hidden = !page.actor;
  $("state-json").hidden = true;
  $("state-seq").value = head;
  $("state-seq").max = head;
}

async function showState(stream, seq) {
  $("state-seq").value = seq;
  for (const row of $("message-rows").children) row.classList.toggle("selected", Number(row.dataset.seq) === seq);
  const out = $("state-json");
  try {
    const answer = await get("/api/state?" + new URLSearchParams({ stream, seq: String(seq) }));
    out.dataset.seq = answer.seq;
    out.textContent = `// ${answer.actor} ${stream} at seq ${answer.seq} of ${answer.head_seq}\n` + json(answer.state, 2);
    out.hidden = false;
  } catch (error) {
    flash("error", error.message);
  }
}

// -- the trace --

function traceNode(m) {
  const li = el("li", { class: "trace-node", dataset: { id: m.id, type: m.type, stream: m.stream_id, seq: m.seq, depth: m.depth } },
    el("div", { class: "node" },
      el("span", { class: "type" }, m.type),
      el("a", { class: "where", href: pageLink(m.stream_id, m.seq - 1 - ((m.seq - 1) % PAGE)) }, `${m.stream_id}#${m.seq}`),
      el("span", { class: "mono" }, m.created_at.slice(11, 23)),
      el("span", { class: "payload", title: json(m.payload, 2) }, json(m.payload))));
  return li;
}

async function showTrace(id) {
  $("trace-id").value = id;
  const tree = $("trace-tree");
  tree.replaceChildren();
  $("trace-summary").textContent = "";
  if (!id) return;
  let trail;
  try {
    trail = await get("/api/trace?" + new URLSearchParams({ id }));
  } catch (error) {
    flash("error", error.message);
    return;
  }
  $("trace-summary").textContent = `correlation ${trail.correlation_id}: ${trail.count} message(s)` +
    (trail.cut ? ", cut short (the first ones in log order)" : "");
  // The nodes come depth first, each with its depth: a stack of open lists rebuilds the nesting.
  const root = el("ul", { class: "tree" });
  const open = [root];
  let previous = null;
  for (const m of trail.nodes) {
    if (m.depth >= open.length && previous) {
      const children = el("ul", {});
      previous.append(children);
      open.push(children);
    }
    open.length = Math.min(open.length, m.depth + 1);
    previous = traceNode(m);
    open[open.length - 1].append(previous);
  }
  tree.append(root);
  tree.dataset.correlation = trail.correlation_id;
}

// -- navigation: #/overview, #/streams?prefix=P, #/stream/ID?after=N, #/trace/ID --

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const [view, ...rest] = path.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const name = { streams: "streams", stream: "streams", trace: "trace" }[view] || "overview";
  state.view = name;
  for (const section of document.querySelectorAll("section.view")) section.hidden = section.dataset.view !== name;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("current", link.dataset.view === name);
  if (view === "stream" && arg) {
    findStreams(arg);
    showStream(arg, Number(params.get("after")) || 0);
  } else if (view === "streams") {
    $("stream-view").hidden = true;
    findStreams(params.get("prefix") || "");
  } else if (view === "trace") {
    showTrace(arg);
  }
}

function start() {
  $("token").value = token();
  $("flash").addEventListener("click", () => { $("flash").hidden = true; });
  $("token").addEventListener("input", (event) => {
    const value = event.target.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    if (state.status) renderMode(state.status);
  });
  $("token-form").addEventListener("submit", (event) => event.preventDefault());
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    if (state.status) renderMode(state.status);
  });
  $("stream-search").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/streams?" + new URLSearchParams({ prefix: $("stream-prefix").value.trim() });
  });
  $("state-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.stream) showState(state.stream.stream_id, Number($("state-seq").value));
  });
  $("trace-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = "#/trace/" + encodeURIComponent($("trace-id").value.trim());
  });
  window.addEventListener("hashchange", route);
  route();
  refreshStatus();
  connect();
}

document.addEventListener("DOMContentLoaded", start);
