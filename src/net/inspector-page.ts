/**
 * The inspector's single page: HTML, CSS and JavaScript inline (no bundler, no external URLs;
 * the server's CSP forbids any). It draws the charts it receives on /events as nested boxes,
 * then applies each coalesced update. Renders text only through textContent (never innerHTML).
 */

const style = `
:root { color-scheme: light; --ink: #1d2430; --muted: #6b7480; --line: #c9d1da; --accent: #0f766e;
  --bg: #f6f8fa; --heat: 0; font: 13px/1.4 ui-sans-serif, system-ui, sans-serif; color: var(--ink); }
body { margin: 0; background: var(--bg); }
header { display: flex; gap: 18px; align-items: center; padding: 10px 18px; background: #1d2430; color: #fff; }
header h1 { font-size: 16px; margin: 0 12px 0 0; font-weight: 600; }
header .metric { display: flex; gap: 6px; align-items: baseline; }
header .metric b { font-size: 18px; }
.pill { padding: 2px 9px; border-radius: 999px; background: #3b4656; font-size: 12px; }
.pill.live { background: var(--accent); }
.pill.down { background: #b42318; }
main { display: grid; grid-template-columns: minmax(560px, 1.2fr) minmax(460px, 1fr); gap: 16px; padding: 16px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 4px 0 8px; }
section, aside { min-width: 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px; margin-bottom: 16px; }
.state { border: 1.5px solid var(--line); border-radius: 9px; background: #fff; padding: 6px 8px 8px;
  display: flex; flex-direction: column; gap: 6px; min-width: 96px; }
.state.atomic, .state.final { background: rgba(15, 118, 110, calc(0.08 + var(--heat) * 0.5)); }
.state.atomic:not(.occupied), .state.final:not(.occupied) { background: #fbfcfd; }
.state.final { border-style: double; border-width: 4px; }
.state.occupied { border-color: var(--accent); }
.state.current { border-color: var(--accent); background: rgba(15, 118, 110, .18); }
.head { display: flex; justify-content: space-between; gap: 10px; align-items: baseline; }
.name { font-weight: 600; }
.count { font: 600 15px ui-monospace, monospace; color: var(--muted); min-width: 1.5em; text-align: right; }
.occupied > .head .count { color: var(--accent); }
.body { display: flex; gap: 8px; flex-wrap: wrap; align-items: flex-start; }
.body.regions { flex-wrap: nowrap; }
.body.regions > .state { flex: 1; border-style: dashed; }
.events { color: var(--muted); font-size: 11px; max-width: 220px; }
table { width: 100%; border-collapse: collapse; font: 12px ui-monospace, monospace; }
th { text-align: left; color: var(--muted); font-weight: 500; position: sticky; top: 0; background: #fff; }
td, th { padding: 3px 6px; border-bottom: 1px solid #eef1f4; white-space: nowrap; }
td.path { white-space: normal; min-width: 180px; }
.scroll { max-height: 520px; overflow: auto; }
.arrow { color: var(--muted); }
tr.fresh { animation: fresh 1.2s ease-out; }
@keyframes fresh { from { background: #ccfbf1; } to { background: transparent; } }
.note { color: var(--muted); font-size: 12px; }
details img { max-width: 100%; background: #fff; }
`

const script = `
"use strict";
const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
let total = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** State paths may break after a dot (a <wbr>), never inside a name. */
function paths(list) {
  const span = el("span");
  if (list.length === 0) span.textContent = "\u2014";
  list.join(", ").split(".").forEach((part, i) => {
    if (i > 0) span.append(".", document.createElement("wbr"));
    span.append(part);
  });
  return span;
}

function box(chart, node) {
  const state = el("div", "state " + node.type);
  state.dataset.path = node.path;
  if (node.events.length > 0) state.title = "handles: " + node.events.join(", ");
  const head = state.appendChild(el("div", "head"));
  head.appendChild(el("span", "name", node.path === "" ? chart + " machine" : node.key));
  const count = head.appendChild(el("span", "count", "0"));
  count.dataset.count = node.path;
  if (node.type === "atomic" && node.events.length > 0) state.appendChild(el("div", "events", node.events.join(" · ")));
  if (node.children.length > 0) {
    const body = state.appendChild(el("div", "body " + (node.type === "parallel" ? "regions" : "substates")));
    for (const child of node.children) body.appendChild(box(chart, child));
  }
  return state;
}

function drawChart(name, tree) {
  const target = $("chart-" + name);
  target.replaceChildren(box(name, tree));
}

function time(at) {
  const d = new Date(at);
  const pad = (n, w) => String(n).padStart(w, "0");
  return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
}

function who(record) {
  return record.name === undefined ? record.id : record.id + " (" + record.name + ")";
}

function addTransitions(list, fresh) {
  const body = $("transitions");
  for (const t of list) {
    const row = el("tr", fresh ? "fresh" : "");
    row.appendChild(el("td", "", time(t.at)));
    row.appendChild(el("td", "", who(t)));
    row.appendChild(el("td", "", t.event));
    const path = row.appendChild(el("td", "path"));
    const to = el("div");
    to.append(el("span", "arrow", "\\u2192 "), paths(t.to));
    path.append(paths(t.from), to);
    body.insertBefore(row, body.firstChild);
  }
  while (body.childElementCount > MAX_ROWS) body.lastElementChild.remove();
}

function apply(state, fresh) {
  total = state.total;
  $("total").textContent = String(total);
  const sup = state.supervisor;
  $("supervisor-state").textContent = sup.status === "active" ? sup.states.join(", ") : sup.status;
  for (const count of $("chart-connection").querySelectorAll("[data-count]")) {
    const path = count.dataset.count;
    const n = path === "" ? total : state.counts[path] || 0;
    count.textContent = String(n);
    const box = count.parentElement.parentElement;
    box.classList.toggle("occupied", n > 0);
    box.style.setProperty("--heat", total > 0 ? String(n / total) : "0");
  }
  for (const count of $("chart-supervisor").querySelectorAll("[data-count]")) {
    const path = count.dataset.count;
    const current = path === "" || sup.states.some((s) => s === path || s.startsWith(path + "."));
    count.textContent = path === "" ? String(total) : current ? "\\u25CF" : "";
    count.parentElement.parentElement.classList.toggle("current", current && path !== "");
  }
  const rows = $("connections");
  rows.replaceChildren();
  for (const c of state.connections) {
    const row = rows.appendChild(el("tr"));
    row.appendChild(el("td", "", who(c)));
    row.appendChild(el("td", "path")).appendChild(paths(c.states));
  }
  $("connections-note").textContent = total > state.connections.length ? "first " + state.connections.length + " of " + total : "";
  if (state.dropped > 0) $("dropped").textContent = "(" + state.dropped + " skipped in a burst)";
  addTransitions(state.transitions, fresh);
}

function init(message) {
  drawChart("connection", message.charts.connection);
  drawChart("supervisor", message.charts.supervisor);
  $("names-note").textContent = message.names ? "user names shown (--inspect-names)" : "user names hidden";
  const svgs = $("svgs");
  svgs.replaceChildren();
  for (const name of message.svgs) {
    const link = svgs.appendChild(el("a"));
    link.href = "/charts/" + name + ".svg";
    link.target = "_blank";
    link.title = "open full size";
    const img = link.appendChild(el("img"));
    img.alt = name + " chart";
    img.src = link.href;
  }
  $("svg-charts").hidden = message.svgs.length === 0;
  $("transitions").replaceChildren();
  apply(message.state, false);
}

const live = $("live");
const events = new EventSource("/events");
events.onopen = () => { live.textContent = "live"; live.className = "pill live"; };
events.onerror = () => { live.textContent = "disconnected, retrying"; live.className = "pill down"; };
events.addEventListener("init", (e) => init(JSON.parse(e.data)));
events.addEventListener("update", (e) => apply(JSON.parse(e.data), true));
`

/** The whole page; static (live data arrives only over /events). */
export const inspectorPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>onechat inspector</title>
<style>${style}</style>
</head>
<body>
<header>
  <h1>onechat inspector</h1>
  <span id="live" class="pill">connecting</span>
  <span class="metric">supervisor <span id="supervisor-state" class="pill">?</span></span>
  <span class="metric">connections <b id="total">0</b></span>
  <span id="names-note" class="note"></span>
</header>
<main>
  <section>
    <h2>Connection machine: connections in each state</h2>
    <div class="card" id="chart-connection"></div>
    <h2>Supervisor</h2>
    <div class="card" id="chart-supervisor"></div>
    <details id="svg-charts" class="card" hidden><summary>Generated charts (docs/charts)</summary><div id="svgs"></div></details>
  </section>
  <aside>
    <h2>Recent transitions <small id="dropped"></small></h2>
    <div class="card scroll">
      <table><thead><tr><th>time</th><th>connection</th><th>event</th><th>from \u2192 to</th></tr></thead>
      <tbody id="transitions"></tbody></table>
    </div>
    <h2>Connections <small id="connections-note"></small></h2>
    <div class="card scroll"><table><tbody id="connections"></tbody></table></div>
    <p class="note">Ids, state paths and event types only: no payloads, keys or messages. Updates at most 10 per second.</p>
  </aside>
</main>
<script>${script}</script>
</body>
</html>
`
