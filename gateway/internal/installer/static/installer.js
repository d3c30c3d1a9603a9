// installer.js: the gateway's status and device list, kept live over
// server-sent events, and the copy buttons (claim code, token, sketch).
import { follow } from "./live.js";

const liveState = (state) => {
  const el = document.getElementById("livestate");
  if (el) el.textContent = state === "live" ? "· live" : "· reconnecting…";
};

const status = document.getElementById("status");
if (status) {
  const shown = document.getElementById("cloudstate").dataset.state;
  follow(status.dataset.live, {
    status: (d) => {
      if (d.state !== shown) { location.reload(); return; }
      for (const el of document.querySelectorAll("[data-field]")) {
        const v = d[el.dataset.field];
        if (v !== undefined && el.textContent !== String(v)) el.textContent = v;
      }
      document.getElementById("banner").hidden = d.state !== "unreachable";
    },
  }, liveState);
}

const table = document.getElementById("devices");
if (table && table.dataset.live) {
  follow(table.dataset.live, {
    devices: (rows) => {
      for (const r of rows) {
        const tr = table.querySelector(`tr[data-id="${r.id}"]`);
        if (!tr) continue;
        const st = tr.querySelector("[data-online] .status");
        st.className = r.online ? "status online" : "status";
        st.textContent = r.online ? "Online" : "Offline";
        const vals = (r.values || []).join(" · ");
        const td = tr.querySelector("[data-values]");
        if (td.textContent !== vals) td.textContent = vals;
      }
    },
  }, liveState);
}

const logs = document.getElementById("logs");
if (logs && logs.dataset.live) {
  const body = logs.tBodies[0];
  follow(logs.dataset.live, {
    line: (l) => {
      body.querySelector("tr.none")?.remove();
      const tr = document.createElement("tr");
      tr.className = "lv-" + l.level + " flash";
      const msg = document.createElement("td");
      msg.className = "msg";
      msg.append(l.message + " ");
      const at = document.createElement("span");
      at.className = "muted mono";
      at.textContent = l.attrs;
      msg.append(at);
      for (const [v, cls] of [[l.time, "mono"], [l.level, ""], [l.component, ""]]) {
        const td = document.createElement("td");
        td.textContent = v;
        if (cls) td.className = cls;
        tr.append(td);
      }
      tr.append(msg);
      body.prepend(tr);
      while (body.rows.length > 500) body.deleteRow(-1);
    },
  }, liveState);
}

const hw = document.getElementById("hardware");
if (hw) {
  follow(hw.dataset.live, {
    hardware: (rows) => {
      for (const r of rows || []) {
        const tr = document.querySelector(`tr[data-key="${CSS.escape(r.key)}"]`);
        if (!tr) continue;
        const st = tr.querySelector("[data-state]");
        if (st && r.state && st.textContent !== r.state) st.textContent = r.state;
        const er = tr.querySelector("[data-error]");
        if (er && er.textContent !== r.error) er.textContent = r.error;
        const dev = tr.querySelector("[data-device] a");
        if (!dev && r.device) location.reload();
      }
    },
  }, liveState);
}

for (const b of document.querySelectorAll("button[data-copy]")) {
  b.addEventListener("click", async () => {
    const src = document.getElementById(b.dataset.copy);
    const note = document.querySelector(`[data-copied="${b.dataset.copy}"]`);
    try {
      await navigator.clipboard.writeText(src.textContent);
      note.textContent = "Copied.";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(src);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      note.textContent = "Selected: copy it with Ctrl+C.";
    }
  });
}

for (const f of document.querySelectorAll("form[data-confirm]")) {
  f.addEventListener("submit", (ev) => { if (!confirm(f.dataset.confirm)) ev.preventDefault(); });
}
