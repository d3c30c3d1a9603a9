// firmware.js: an image over the upload limit is refused when it is
// picked, before it is sent. The server refuses it too (413), but a
// browser whose upload the server stops reading may show a reset
// connection instead of that page.
const input = document.getElementById("ufile");
if (input) {
  const max = Number(input.dataset.max);
  input.addEventListener("change", () => {
    const f = input.files && input.files[0];
    const over = f && max > 0 && f.size > max;
    input.setCustomValidity(over ? `The image is larger than the limit of ${input.dataset.limit}.` : "");
    if (over) input.reportValidity();
  });
}
