// Draws every <canvas data-chart="ID"> with the Chart.js configuration in the JSON
// script element ID (rendered by Django's json_script): no inline script, so a strict
// Content Security Policy holds. Runs on load and on every htmx swap.
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.dataset.chart);
      if (!source || typeof Chart === "undefined") return;
      var config = JSON.parse(source.textContent);
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false }, config.options);
      if (window.matchMedia && window.matchMedia("print").matches) config.options.animation = false;
      canvas.dataset.drawn = "1";
      new Chart(canvas, config);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
