// admin.js: a form that deletes or locks someone out asks first. The
// form names its question in data-confirm; without JavaScript the form
// submits as it is, and the server's rules hold either way.
document.addEventListener("submit", (ev) => {
  const q = ev.target.dataset && ev.target.dataset.confirm;
  if (q && !window.confirm(q)) ev.preventDefault();
});
