// automation.js: the automation editor shows the fields of the chosen
// trigger and of each action's kind (without it every field shows; the
// server ignores the ones that do not apply).
for (const sel of document.querySelectorAll("select[data-switch]")) {
  const key = sel.dataset.switch;
  const parts = document.querySelectorAll(`[data-for="${key}"]`);
  const show = () => {
    for (const el of parts) {
      const kinds = el.dataset.kinds.split(" ");
      el.hidden = !kinds.includes(sel.value);
      for (const inner of el.querySelectorAll("[data-kinds]")) {
        inner.hidden = !inner.dataset.kinds.split(" ").includes(sel.value);
      }
    }
  };
  sel.addEventListener("change", show);
  show();
}
