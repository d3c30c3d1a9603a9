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

// The conditions ("only if"): the radio shows the form or the JSON; rows
// are added from the blank row's template and removed by a button (the
// page without the script has spare rows and a "Remove" tick box).
const conds = document.getElementById("conds");
if (conds) {
  const modes = conds.querySelectorAll('input[name="c_mode"]');
  const showMode = () => {
    const mode = [...modes].find((r) => r.checked)?.value || "form";
    for (const part of conds.querySelectorAll("[data-cpart]")) part.hidden = part.dataset.cpart !== mode;
  };
  for (const r of modes) r.addEventListener("change", showMode);
  showMode();

  const list = document.getElementById("condrows");
  const blank = document.getElementById("condrow-blank");
  const add = document.getElementById("add-cond");
  const removable = (row) => {
    const box = row.querySelector("input[data-remove]");
    if (!box) return;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "danger";
    btn.textContent = "Remove";
    const dev = row.querySelector("select");
    const which = dev && dev.selectedOptions[0] && dev.value ? " " + dev.selectedOptions[0].textContent : "";
    btn.setAttribute("aria-label", "Remove this condition" + which);
    btn.addEventListener("click", () => {
      row.remove();
      add.focus();
    });
    box.closest(".field").replaceChildren(btn);
  };
  for (const row of list.children) removable(row);
  add.hidden = false;
  add.addEventListener("click", () => {
    const n = Number(list.dataset.next || list.children.length);
    list.dataset.next = String(n + 1);
    const t = document.createElement("template");
    t.innerHTML = blank.innerHTML.replaceAll("__I__", String(n));
    const row = t.content.firstElementChild;
    list.append(row);
    removable(row);
    row.querySelector("select").focus();
  });
}
