// app.js: the header's organization switcher filters as you type; the
// forms' long organization fields are searchable (orgpick.js).
import "./orgpick.js";

const filter = document.getElementById("orgfilter");
const list = document.getElementById("orglist");
if (filter && list) {
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of list.children) li.hidden = q !== "" && !li.textContent.toLowerCase().includes(q);
  });
  document.getElementById("orgswitch").addEventListener("toggle", (ev) => {
    if (ev.target.open) filter.focus();
  });
}
