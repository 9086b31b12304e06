// The page an import streams while it runs (imports/progress.html). The server appends a
// JSON data block per step, <script type="application/json" class="import-step">
// ["Checking", 2, 4]</script>, then an element .import-end naming the outcome: data, not
// code, so a strict Content Security Policy holds. Loaded without defer, before the steps
// arrive, it watches them come in and shows the latest.
(function () {
  "use strict";
  var section = document.getElementById("import-progress");
  if (!section || !window.MutationObserver) return;
  var bar = document.getElementById("import-bar");
  var status = document.getElementById("import-phase");
  var count = document.getElementById("import-count");
  var shown = null;

  function show(phase, done, total) {
    if (total > 0) { bar.max = total; bar.value = done; } else { bar.removeAttribute("value"); }
    if (status.textContent !== phase) status.textContent = phase;
    count.textContent = total > 0 ? done.toLocaleString() + " of " + total.toLocaleString() : "";
  }

  function update(records, observer) {
    var steps = section.querySelectorAll("script.import-step");
    var last = steps[steps.length - 1];
    if (last && last !== shown) {
      try {
        var step = JSON.parse(last.textContent);
        shown = last;
        show(step[0], step[1], step[2]);
      } catch (unfinished) {
        // The step's text is still arriving: the next change shows it.
      }
    }
    var end = section.querySelector(".import-end");
    if (!end) return;
    observer.disconnect();
    bar.hidden = true;
    count.textContent = "";
    status.textContent = end.dataset.phase;
    if (end.dataset.go) location.replace(end.dataset.go);
  }

  new MutationObserver(update).observe(section, { childList: true, subtree: true, characterData: true });
})();
