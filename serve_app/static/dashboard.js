// The dashboard: storages with their state, sessions, last collection and lag, open alerts, a
// metric chart fed by the Arrow route, and actions (sync, update access info, remove) behind a
// confirmation. It talks only to this app's own API (same origin); nothing from the internet.
"use strict";

const REFRESH_MS = 5000;
let selected = null;               // storage id whose metrics the chart shows
let storages = [];

const $ = (sel) => document.querySelector(sel);

function headers() {
  const token = $("#token").value || sessionStorage.getItem("delfin-dm-token") || "";
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path, opts = {}) {
  const resp = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...headers() } });
  if (!resp.ok) {
    let msg = `${resp.status}`;
    try { const body = await resp.json(); msg = `${body.error_code}: ${body.error_msg}`; } catch (e) { /* no body */ }
    throw new Error(msg);
  }
  return resp;
}

function say(text, error = false) {
  const el = $("#status");
  el.textContent = text;
  el.className = "shown" + (error ? " error" : "");
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { el.className = ""; }, 4000);
}

function ago(epochSeconds) {
  if (!epochSeconds) return "-";
  const s = Math.max(0, Math.round(Date.now() / 1000 - epochSeconds));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function refresh() {
  try {
    const [list, infos, alerts] = await Promise.all([
      api("/v1/storages").then((r) => r.json()),
      api("/v1/access-infos").then((r) => r.json()),
      api("/v1/alerts?open_only=true").then((r) => r.json()),
    ]);
    storages = list.storages;
    const access = Object.fromEntries(infos.access_infos.map((a) => [a.storage_id, a]));
    const states = await Promise.all(storages.map((s) =>
      api(`/v1/storages/${s.id}/state`).then((r) => r.json()).catch(() => ({ state: "unknown", collection: {} }))));
    const openBy = {};
    for (const a of alerts.alerts) openBy[a.storage_id] = (openBy[a.storage_id] || 0) + 1;
    renderStorages(access, states, openBy);
    renderAlerts(alerts.alerts);
    const ready = states.filter((s) => s.state === "ready").length;
    $("#summary").textContent = `${storages.length} storage(s), ${ready} ready, ${alerts.alerts.length} open alert(s)`;
    if (!selected && storages.length) select(storages[0].id);
  } catch (e) {
    $("#summary").textContent = `cannot reach the API: ${e.message}`;
  }
}

function renderStorages(access, states, openBy) {
  const body = $("#storages tbody");
  body.replaceChildren();
  $("#empty").hidden = storages.length > 0;
  storages.forEach((s, i) => {
    const st = states[i] || {};
    const col = st.collection || {};
    const a = access[s.id] || {};
    const block = a.rest || a.ssh || a.cli || a.smis || {};
    const row = body.insertRow();
    row.dataset.id = s.id;
    if (s.id === selected) row.classList.add("selected");
    cell(row, s.name, "name");
    cell(row, `${a.vendor || "?"} ${a.model || ""}`, "driver");
    cell(row, block.host ? `${block.host}:${block.port}` : "-", "endpoint");
    cell(row, st.state || "unknown", `state state-${st.state || "unknown"}`);
    cell(row, String(st.sessions ?? 0), "sessions");
    cell(row, ago(col.last_success), "last-collection");
    cell(row, col.last_end ? `${Math.round(Date.now() / 1000 - col.last_end / 1000)} s` : "-", "lag");
    cell(row, String(openBy[s.id] || 0), "open-alerts");
    const actions = row.insertCell();
    actions.className = "actions";
    for (const [label, fn] of [["Sync", sync], ["Access info", editAccess], ["Remove", remove]]) {
      const b = document.createElement("button");
      b.textContent = label;
      b.dataset.action = label.toLowerCase().replace(" ", "-");
      b.addEventListener("click", (ev) => { ev.stopPropagation(); fn(s, a); });
      actions.appendChild(b);
    }
    row.addEventListener("click", () => select(s.id));
  });
}

function renderAlerts(alerts) {
  const body = $("#alerts tbody");
  body.replaceChildren();
  const names = Object.fromEntries(storages.map((s) => [s.id, s.name]));
  for (const a of alerts) {
    const row = body.insertRow();
    cell(row, new Date(a.occur_time).toLocaleString());
    cell(row, a.severity, `severity-${a.severity}`);
    cell(row, a.alert_name);
    cell(row, names[a.storage_id] || a.storage_id || "");
    cell(row, a.description);
  }
}

async function sync(s) {
  if (!confirm(`Start a resource sync of ${s.name}?`)) return;
  try { await api(`/v1/storages/${s.id}/sync`, { method: "POST" }); say(`sync of ${s.name} started`); }
  catch (e) { say(e.message, true); }
}

async function remove(s) {
  if (!confirm(`Remove ${s.name}? Its session is logged out and its actor stopped.`)) return;
  try {
    await api(`/v1/storages/${s.id}`, { method: "DELETE" });
    say(`${s.name} removed`);
    if (selected === s.id) selected = null;
    refresh();
  } catch (e) { say(e.message, true); }
}

function editAccess(s, a) {
  const name = ["rest", "ssh", "cli", "smis"].find((b) => a[b]);
  if (!name) { say("no access block to edit", true); return; }
  const form = $("#access-form");
  form.block.value = name;
  form.host.value = a[name].host;
  form.port.value = a[name].port;
  form.username.value = a[name].username;
  form.password.value = "";
  $("#access-name").textContent = s.name;
  const dialog = $("#access-dialog");
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    if (!confirm(`Log in to ${s.name} with the new access info? The old session is logged out once it works.`)) return;
    const block = { host: form.host.value, port: Number(form.port.value), username: form.username.value,
                    password: form.password.value };
    const keep = Object.fromEntries(Object.entries(a[name]).filter(([k]) => k.startsWith("pub_key")));
    try {
      await api(`/v1/storages/${s.id}/access-info`, {
        method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ [name]: { ...keep, ...block }, extra_attributes: a.extra_attributes || {} }) });
      say(`access info of ${s.name} updated`);
      refresh();
    } catch (e) { say(e.message, true); }
  };
  dialog.showModal();
}

function select(id) {
  selected = id;
  document.querySelectorAll("#storages tbody tr").forEach((r) => r.classList.toggle("selected", r.dataset.id === id));
  loadChart();
}

// -- the chart: the Arrow route's points, summed per timestamp over the storage's resources ---------
async function loadChart() {
  if (!selected) return;
  const storage = storages.find((s) => s.id === selected);
  const metric = $("#metric").value;
  const span = Number($("#window").value);
  $("#chart-title").textContent = `of ${storage ? storage.name : selected}: ${metric}`;
  try {
    const end = Date.now();
    const resp = await api(`/v1/storages/${selected}/metrics?metric=${metric}&start=${end - span}&end=${end}`);
    const table = Arrow.tableFromIPC(new Uint8Array(await resp.arrayBuffer()));
    const ts = table.getChild("timestamp"), values = table.getChild("value");
    const sums = new Map();
    for (let i = 0; i < table.numRows; i++) {
      const t = Number(ts.get(i) instanceof Date ? ts.get(i).getTime() : ts.get(i));
      sums.set(t, (sums.get(t) || 0) + values.get(i));
    }
    drawChart([...sums.entries()].sort((p, q) => p[0] - q[0]));
    $("#chart-info").textContent = `${table.numRows} points, ${sums.size} timestamps`;
  } catch (e) {
    drawChart([]);
    $("#chart-info").textContent = e.message;
  }
}

function drawChart(points) {
  const svg = $("#chart");
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const W = 800, H = 240, pad = 30;
  const axis = document.createElementNS(NS, "line");
  Object.entries({ x1: pad, y1: H - pad, x2: W - 5, y2: H - pad, class: "axis" }).forEach(([k, v]) => axis.setAttribute(k, v));
  svg.appendChild(axis);
  if (!points.length) return;
  const t0 = points[0][0], t1 = points[points.length - 1][0] || t0 + 1;
  const vmax = Math.max(...points.map((p) => p[1])) || 1;
  const xy = points.map(([t, v]) => [pad + (W - pad - 5) * (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5),
                                      H - pad - (H - 2 * pad) * (v / vmax)]);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("class", "series");
  line.setAttribute("points", xy.map((p) => p.map((n) => n.toFixed(1)).join(",")).join(" "));
  svg.appendChild(line);
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", 4); label.setAttribute("y", 14);
  label.textContent = `max ${vmax.toFixed(1)}`;
  svg.appendChild(label);
}

$("#token").value = sessionStorage.getItem("delfin-dm-token") || "";
$("#token").addEventListener("change", () => { sessionStorage.setItem("delfin-dm-token", $("#token").value); refresh(); });
$("#metric").addEventListener("change", loadChart);
$("#window").addEventListener("change", loadChart);
refresh();
setInterval(() => { refresh(); loadChart(); }, REFRESH_MS);
