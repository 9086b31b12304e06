// The buyer's share page: as the page is left, tell Keel how long it stayed open.
// The page names the beacon's address in data-beacon; no inline script (a strict CSP).
(function () {
  "use strict";
  var holder = document.querySelector("[data-beacon]");
  if (!holder || !navigator.sendBeacon) {
    return;
  }
  var url = holder.getAttribute("data-beacon");
  var start = Date.now();
  var sent = false;
  window.addEventListener("pagehide", function () {
    if (sent) {
      return;
    }
    sent = true;
    var seconds = Math.max(0, Math.round((Date.now() - start) / 1000));
    navigator.sendBeacon(url, String(seconds));
  });
})();
