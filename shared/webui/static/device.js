// device.js: the device page's live values (server-sent events), control
// writes (fetch, with the result shown under the control) and charts.
import { follow } from "./live.js";
import { draw } from "./chart.js";

const root = document.getElementById("device");
const id = root.dataset.id;
const tiles = new Map();
for (const t of document.querySelectorAll(".tile[data-pin]")) tiles.set(t.dataset.pin, t);

function ago(ms) {
  const s = (Date.now() - ms) / 1000;
  if (s < 10) return "just now";
  if (s < 60) return Math.floor(s) + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 172800) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " days ago";
}

function shown(tile, raw) {
  const type = tile.dataset.type;
  if (raw === "") return "—";
  if (type === "boolean") return raw === "1" ? "On" : "Off";
  if (type === "enum") {
    const opt = tile.querySelector(`option[value="${CSS.escape(raw)}"]`);
    return opt ? opt.textContent : raw;
  }
  if (type === "location") {
    const [lon, lat] = raw.split("\u0000");
    return `${lat}, ${lon}`;
  }
  const items = raw.split("\u0000");
  if (type === "double" && tile.dataset.decimals) {
    // The template's decimals, as webui.Display formats them (no "-0.0").
    const d = Number(tile.dataset.decimals);
    return items.map((v) => {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n)) return v;
      const s = n.toFixed(d);
      return Number(s) === 0 ? s.replace(/^-/, "") : s;
    }).join(", ");
  }
  return items.join(", ");
}

// setValue shows a new value in its tile and moves its control along,
// unless the user is editing that control.
function setValue(pin, raw, ts) {
  const tile = tiles.get(String(pin));
  if (!tile) return;
  const out = tile.querySelector("output[data-value]");
  out.dataset.raw = raw;
  out.textContent = shown(tile, raw);
  out.classList.remove("flash");
  void out.offsetWidth;
  out.classList.add("flash");
  const t = tile.querySelector("time[data-ts]");
  if (t) { t.dateTime = new Date(ts).toISOString(); t.dataset.ms = ts; t.textContent = ago(ts); }
  const form = tile.querySelector("form.control");
  if (!form || form.contains(document.activeElement) && form.dataset.control !== "switch") return;
  switch (form.dataset.control) {
    case "switch":
      form.querySelector("[data-switch]").checked = raw === "1";
      form.elements.value.value = raw === "1" ? "0" : "1";
      break;
    case "slider":
      form.querySelector("[data-mirror]").value = raw;
      form.elements.value.value = raw;
      break;
    default:
      form.elements.value.value = raw;
  }
  if (tile.dataset.type === "location") {
    const a = tile.querySelector("a[data-map]");
    const [lon, lat] = raw.split("\u0000");
    if (a) a.href = `https://www.openstreetmap.org/?mlat=${encodeURIComponent(lat)}&mlon=${encodeURIComponent(lon)}`;
  }
}

function setOnline(online, ts) {
  const conn = document.getElementById("conn");
  const span = document.createElement("span");
  span.className = online ? "status online" : "status";
  span.textContent = online ? "Online" : "Offline";
  conn.replaceChildren(span);
  const seen = document.getElementById("lastseen");
  seen.dataset.ms = ts;
  seen.textContent = ago(ts);
}

// New timeline entries appear at the top of the timeline tab.
function timelineRow(kind, code, description, ts) {
  const table = document.getElementById("timeline");
  if (!table || (table.dataset.kind && table.dataset.kind !== kind)) return;
  const tr = document.createElement("tr");
  const when = document.createElement("time");
  when.dateTime = new Date(ts).toISOString();
  when.textContent = new Date(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  for (const v of [when, kind, code, description]) {
    const td = document.createElement("td");
    if (typeof v === "string") td.textContent = v; else td.appendChild(v);
    tr.appendChild(td);
  }
  tr.className = "flash";
  table.tBodies[0].prepend(tr);
}

follow(root.dataset.live, {
  value: (d) => { setValue(d.pin, d.value, d.ts); liveChart(d.pin, d.value, d.ts); const seen = document.getElementById("lastseen"); seen.dataset.ms = d.ts; seen.textContent = ago(d.ts); },
  status: (d) => { setOnline(d.online, d.ts); timelineRow(d.online ? "online" : "offline", "", d.transport ? "over " + d.transport : "", d.ts); },
  event: (d) => timelineRow(d.kind, d.code, d.description, d.ts),
}, (state) => {
  document.getElementById("livestate").textContent = state === "live" ? "· live" : "· reconnecting…";
  root.dataset.state = state;
});

setInterval(() => {
  for (const t of document.querySelectorAll("time[data-ms]")) t.textContent = ago(Number(t.dataset.ms));
}, 10000);

// Control writes.
async function send(form, value) {
  const result = form.querySelector(".result");
  result.className = "result";
  result.textContent = "Sending…";
  const body = new URLSearchParams({ pin: form.elements.pin.value, value });
  let res;
  try {
    const r = await fetch(form.action, { method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin" });
    res = await r.json();
  } catch {
    res = { result: "error", message: "No answer from the cloud" };
  }
  result.textContent = res.message;
  result.className = "result " + (res.result === "applied" ? "ok" : res.result === "stale" ? "warn" : "bad");
  if (res.result === "applied") setValue(form.elements.pin.value, value, Date.now());
  return res;
}

for (const form of document.querySelectorAll("form.control")) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send(form, form.elements.value.value);
  });
  const sw = form.querySelector("[data-switch]");
  if (sw) {
    sw.addEventListener("change", async () => {
      const want = sw.checked ? "1" : "0";
      const res = await send(form, want);
      if (res.result !== "applied") sw.checked = !sw.checked;
    });
  }
  const range = form.querySelector("[data-mirror]");
  if (range) {
    range.addEventListener("input", () => { form.elements.value.value = range.value; });
    range.addEventListener("change", () => send(form, range.value));
    form.elements.value.addEventListener("input", () => { range.value = form.elements.value.value; });
  }
  const sel = form.querySelector("select[name=value]");
  if (sel) sel.addEventListener("change", () => send(form, sel.value));
}

// Charts.
const panels = [...document.querySelectorAll(".chartpanel")];
let current = { range: "1h" };
const liveSeries = new Map();

async function load(panel) {
  const pin = panel.dataset.pin;
  const q = current.range ? `range=${current.range}` : `from=${current.from}&to=${current.to}`;
  const box = panel.querySelector(".chart");
  const exp = panel.querySelector("a[data-export]");
  if (exp) exp.href = `${exp.dataset.export}&${q}`;
  let data;
  try {
    const r = await fetch(`/devices/${id}/series?pin=${pin}&${q}`, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(await r.text());
    data = await r.json();
  } catch (e) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "Could not load the chart: " + e.message;
    box.replaceChildren(p);
    return;
  }
  data.step = panel.dataset.step === "true";
  data.unit = panel.dataset.unit;
  data.title = panel.dataset.name;
  if (panel.dataset.labels) data.labels = JSON.parse(panel.dataset.labels);
  if (current.range === "live") liveSeries.set(pin, data);
  draw(box, data);
  box.dataset.points = data.buckets.length;
}

function liveChart(pin, raw, ts) {
  const data = liveSeries.get(String(pin));
  const v = Number(raw);
  if (!data || current.range !== "live" || !isFinite(v)) return;
  const panel = panels.find((p) => p.dataset.pin === String(pin));
  data.to = Date.now();
  data.from = data.to - 15 * 60e3;
  const t = Math.floor(ts / data.width) * data.width;
  const last = data.buckets[data.buckets.length - 1];
  if (last && last.t === t) {
    last.avg = (last.avg * last.n + v) / (last.n + 1); last.n++;
    last.min = Math.min(last.min, v); last.max = Math.max(last.max, v); last.last = v;
  } else {
    data.buckets.push({ t, avg: v, min: v, max: v, last: v, n: 1 });
  }
  data.buckets = data.buckets.filter((b) => b.t + data.width > data.from);
  draw(panel.querySelector(".chart"), data);
}

if (panels.length) {
  const buttons = document.querySelectorAll("#ranges button");
  for (const b of buttons) {
    b.addEventListener("click", () => {
      for (const o of buttons) o.setAttribute("aria-pressed", String(o === b));
      current = { range: b.dataset.range };
      panels.forEach(load);
    });
  }
  const custom = document.getElementById("custom");
  custom.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = new Date(custom.querySelector("#from").value).getTime();
    const to = new Date(custom.querySelector("#to").value).getTime();
    if (!(from < to)) return;
    for (const o of buttons) o.setAttribute("aria-pressed", "false");
    current = { from, to };
    panels.forEach(load);
  });
  // The page may name its range: ?range=6h, or ?from=&to= in ms.
  const u = new URLSearchParams(location.search);
  if (u.get("from") && u.get("to")) {
    current = { from: Number(u.get("from")), to: Number(u.get("to")) };
    for (const o of buttons) o.setAttribute("aria-pressed", "false");
    // Show the range in the custom fields (local time, as the user types it).
    const local = (ms) => {
      const d = new Date(ms);
      return new Date(ms - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    };
    if (Number.isFinite(current.from) && Number.isFinite(current.to)) {
      custom.querySelector("#from").value = local(current.from);
      custom.querySelector("#to").value = local(current.to);
    }
  } else if (u.get("range")) {
    const b = [...buttons].find((o) => o.dataset.range === u.get("range"));
    if (b) {
      current = { range: b.dataset.range };
      for (const o of buttons) o.setAttribute("aria-pressed", String(o === b));
    }
  }
  panels.forEach(load);
  let resize;
  window.addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(() => panels.forEach(load), 200); });
}
