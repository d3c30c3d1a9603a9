// chart.js draws one aggregated series as SVG: the average as a line, the
// min..max of each bucket as a band, gaps (missing buckets) as gaps,
// boolean and enum values as steps, with a hover readout. No dependencies.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function fmtTime(ms, span) {
  const d = new Date(ms);
  if (span <= 20 * 60e3) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (span <= 36 * 3600e3) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

export function fmtNum(v) {
  if (!isFinite(v)) return "";
  const a = Math.abs(v);
  return a >= 1000 || a === Math.round(a) ? String(Math.round(v * 100) / 100) : v.toPrecision(4).replace(/\.?0+$/, "");
}

// draw renders data into box (an element holding nothing else). data:
// {from, to, width (bucket ms), buckets: [{t, avg, min, max}], step, unit,
// labels (value -> text for enums)}.
export function draw(box, data) {
  box.replaceChildren();
  const W = Math.max(box.clientWidth, 280), H = 220, L = 44, R = 10, T = 10, B = 24;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": data.title || "chart" }, box);
  const readout = document.createElement("div");
  readout.className = "readout";
  readout.setAttribute("aria-live", "polite");
  box.appendChild(readout);
  const pts = data.buckets || [];
  if (!pts.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No data in this range";
    box.replaceChildren(p);
    return;
  }
  let lo = Infinity, hi = -Infinity;
  for (const b of pts) { lo = Math.min(lo, b.min); hi = Math.max(hi, b.max); }
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const x = (t) => L + ((t - data.from) / (data.to - data.from)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    el("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }, svg);
    const t = el("text", { class: "label", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, svg);
    t.textContent = data.labels && data.labels[Math.round(v)] !== undefined && Math.abs(v - Math.round(v)) < 0.05 ? data.labels[Math.round(v)] : fmtNum(v);
  }
  for (let i = 0; i <= 4; i++) {
    const tm = data.from + ((data.to - data.from) * i) / 4;
    const t = el("text", { class: "label", x: x(tm), y: H - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, svg);
    t.textContent = fmtTime(tm, data.to - data.from);
  }
  // Runs of consecutive buckets; a missing bucket starts a new run (a gap).
  const runs = [];
  let run = [];
  for (const b of pts) {
    if (run.length && b.t - run[run.length - 1].t > data.width * 1.5) { runs.push(run); run = []; }
    run.push(b);
  }
  runs.push(run);
  const endOf = (b) => Math.min(b.t + data.width, data.to);
  // A step series (boolean, enum) shows each bucket's newest value.
  const val = (b) => (data.step && b.last !== undefined ? b.last : b.avg);
  for (const r of runs) {
    let line = "", band = "", back = "";
    r.forEach((b, i) => {
      if (data.step) {
        line += `${i ? "L" : "M"}${x(b.t)},${y(val(b))}H${x(endOf(b))}`;
      } else {
        line += `${i ? "L" : "M"}${x(b.t + data.width / 2)},${y(b.avg)}`;
      }
      band += `${i ? "L" : "M"}${x(b.t)},${y(b.max)}H${x(endOf(b))}`;
      back = `L${x(endOf(b))},${y(b.min)}H${x(b.t)}` + back;
    });
    if (!data.step) el("path", { class: "band", d: band + back + "Z" }, svg);
    el("path", { class: "line", d: line }, svg);
    if (r.length === 1 && !data.step) el("circle", { class: "dot", cx: x(r[0].t + data.width / 2), cy: y(r[0].avg), r: 2.5 }, svg);
  }
  const cursor = el("line", { class: "cursor", y1: T, y2: H - B, visibility: "hidden" }, svg);
  const dot = el("circle", { class: "dot", r: 3.5, visibility: "hidden" }, svg);
  const show = (b) => {
    const cx = data.step ? x(b.t) : x(b.t + data.width / 2);
    cursor.setAttribute("x1", cx); cursor.setAttribute("x2", cx); cursor.setAttribute("visibility", "visible");
    dot.setAttribute("cx", cx); dot.setAttribute("cy", y(val(b))); dot.setAttribute("visibility", "visible");
    const label = (v) => (data.labels && data.labels[v] !== undefined ? data.labels[v] : fmtNum(v)) + (data.unit ? " " + data.unit : "");
    let text = new Date(b.t).toLocaleString() + " · " + label(val(b));
    if (b.min !== b.max && !data.step) text += ` (min ${label(b.min)}, max ${label(b.max)})`;
    readout.textContent = text;
  };
  svg.addEventListener("pointermove", (ev) => {
    const rect = svg.getBoundingClientRect();
    const t = data.from + ((ev.clientX - rect.left) * (W / rect.width) - L) / (W - L - R) * (data.to - data.from);
    let best = pts[0];
    for (const b of pts) if (Math.abs(b.t + data.width / 2 - t) < Math.abs(best.t + data.width / 2 - t)) best = b;
    show(best);
  });
  // Keyboard: focus the chart, then the arrow keys walk the buckets.
  svg.setAttribute("tabindex", "0");
  let at = pts.length - 1;
  svg.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    ev.preventDefault();
    at = Math.max(0, Math.min(pts.length - 1, at + (ev.key === "ArrowLeft" ? -1 : 1)));
    show(pts[at]);
  });
  svg.addEventListener("pointerleave", () => {
    cursor.setAttribute("visibility", "hidden"); dot.setAttribute("visibility", "hidden");
    readout.textContent = "";
  });
  show(pts[pts.length - 1]);
}
