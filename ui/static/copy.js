// Copy: one click on a quote's button puts its data-copy text (the quote and its citation) on the clipboard.
(() => {
  if (window.qaCopyInstalled) { return; }
  window.qaCopyInstalled = true;
  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {  // no clipboard API outside https/localhost: copy from a hidden text area instead
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      return copied;
    }
  };
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.qa-copy");
    if (!button) { return; }
    button.dataset.label = button.dataset.label || button.textContent;
    const copied = await copy(button.dataset.copy || "");
    button.textContent = copied ? "Copied ✓" : "Could not copy: select the text instead";
    setTimeout(() => { button.textContent = button.dataset.label; }, 3000);
  });
})();
