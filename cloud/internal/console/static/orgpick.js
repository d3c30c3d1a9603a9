// orgpick.js: an organization field with more choices than a <select>
// holds well (input[data-orgpick], see orgpick.go) becomes a combobox:
// typing asks GET /pick/orgs for the matching organizations the user may
// pick, arrows move through them, Enter or a click picks one, Escape
// closes the list. The form then sends the picked org's number; what was
// typed without picking is sent as it is and the server matches the name.
// Without JavaScript the field takes a name or a number as typed.
let seq = 0;

function enhance(input) {
  const id = `orgpick${++seq}`;
  const hidden = document.createElement("input");
  hidden.type = "hidden";
  hidden.name = input.name;
  hidden.value = input.dataset.value || "";
  input.removeAttribute("name");
  input.after(hidden);
  const list = document.createElement("ul");
  list.id = `${id}-list`;
  list.className = "orgpick";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  const label = input.labels && input.labels[0];
  if (label) list.setAttribute("aria-label", label.textContent.trim());
  input.parentNode.insertBefore(list, hidden.nextSibling);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);

  let items = [];
  let active = -1;
  let timer = 0;
  let ctl = null;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const highlight = (i) => {
    const opts = list.querySelectorAll("[role=option]");
    opts.forEach((o, j) => o.setAttribute("aria-selected", String(j === i)));
    active = i;
    if (i >= 0 && opts[i]) {
      input.setAttribute("aria-activedescendant", opts[i].id);
      opts[i].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const pick = (i) => {
    const it = items[i];
    if (!it) return;
    input.value = it.name;
    hidden.value = String(it.id);
    input.setCustomValidity("");
    close();
  };
  const show = (res) => {
    items = res.items;
    list.replaceChildren();
    items.forEach((it, i) => {
      const li = document.createElement("li");
      li.id = `${id}-o${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      const name = document.createElement("span");
      name.textContent = it.name;
      li.append(name);
      const meta = document.createElement("small");
      meta.className = "muted";
      meta.textContent = (it.path ? it.path + " · " : "") + "#" + it.id;
      li.append(" ", meta);
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); pick(i); });
      list.append(li);
    });
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No organization matches.";
      list.append(li);
    } else if (res.more) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "More match: type more of the name.";
      list.append(li);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(items.length > 0 ? 0 : -1);
  };
  const search = () => {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const u = new URL("/pick/orgs", location.origin);
    u.searchParams.set("for", input.dataset.orgpick);
    u.searchParams.set("q", input.value.trim());
    fetch(u, { signal: ctl.signal, headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then(show)
      .catch((e) => { if (e.name !== "AbortError") close(); });
  };

  input.addEventListener("input", () => {
    hidden.value = ""; // typed again: no longer the org picked
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  // Focus selects the text, so typing replaces the org shown; with
  // nothing shown the first suggestions open.
  input.addEventListener("focus", () => { if (input.value.trim() === "") search(); else input.select(); });
  input.addEventListener("blur", close);
  input.addEventListener("keydown", (ev) => {
    const open = !list.hidden && items.length > 0;
    switch (ev.key) {
      case "ArrowDown":
        ev.preventDefault();
        if (!open) search(); else highlight((active + 1) % items.length);
        break;
      case "ArrowUp":
        if (open) { ev.preventDefault(); highlight((active - 1 + items.length) % items.length); }
        break;
      case "Enter":
        if (open && active >= 0) { ev.preventDefault(); pick(active); }
        break;
      case "Escape":
        if (!list.hidden) { ev.preventDefault(); close(); }
        break;
    }
  });
  input.form.addEventListener("submit", () => {
    if (hidden.value === "") hidden.value = input.value.trim(); // the server matches the name
  });
}

document.querySelectorAll("input[data-orgpick]").forEach(enhance);
