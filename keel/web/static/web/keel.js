// The pipeline board: move a card by drag-and-drop, by the arrow keys, or with its menu.
// Every move is one htmx POST that answers with the board re-rendered in place; a refused
// move comes back with the card where it was and the missing evidence next to it.
(function () {
  "use strict";

  function move(card, stage) {
    var board = document.getElementById("board");
    if (!board || !stage) return;
    var url = board.dataset.moveUrl.replace("/0/", "/" + card.dataset.deal + "/");
    htmx.ajax("POST", url, {
      target: "#board",
      swap: "outerHTML",
      values: { to_stage: stage, version: card.dataset.version, board: board.dataset.query },
    }).then(function () {
      var again = document.getElementById(card.id);
      if (again) again.focus();
    });
  }

  function stageOf(card) {
    return card.closest(".column").dataset.stage;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".card[draggable=true]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.id);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".card");
    if (card) card.classList.remove("dragging");
    document.querySelectorAll(".column.over").forEach(function (c) { c.classList.remove("over"); });
  });
  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("over");
  });
  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("over");
  });
  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!column) return;
    event.preventDefault();
    column.classList.remove("over");
    var card = document.getElementById(event.dataTransfer.getData("text/plain"));
    if (card && stageOf(card) !== column.dataset.stage) move(card, column.dataset.stage);
  });

  document.addEventListener("keydown", function (event) {
    var card = event.target;
    if (!card.classList || !card.classList.contains("card") || !card.draggable) return;
    if (event.key === "Enter") {
      var link = card.querySelector("a.name");
      if (link) link.click();
      return;
    }
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    var columns = Array.prototype.slice.call(document.querySelectorAll(".board .column"));
    var index = columns.indexOf(card.closest(".column")) + (event.key === "ArrowRight" ? 1 : -1);
    if (index < 0 || index >= columns.length) return;
    event.preventDefault();
    move(card, columns[index].dataset.stage);
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.classList || !select.classList.contains("move") || !select.value) return;
    move(select.closest(".card"), select.value);
  });
})();

// Quick logs are keyboard-first: Ctrl+Enter (⌘+Enter on a Mac) in the note sends the form.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  var form = event.target.closest && event.target.closest("form.quicklog, form.daylog");
  if (form) {
    event.preventDefault();
    form.requestSubmit();
  }
});

// Behaviour the templates ask for with data- attributes rather than inline handlers, which
// the Content Security Policy refuses (script-src 'self', no 'unsafe-inline').
// <button data-dismiss=".blocked"> removes the nearest enclosing element matching that selector.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-dismiss]");
  if (!button) return;
  var gone = button.closest(button.dataset.dismiss);
  if (gone) gone.remove();
});
// An htmx request from inside [data-swap-400] swaps in a 400 answer too: the form comes back
// with its errors in place (htmx otherwise leaves the page as it was on an error status).
document.addEventListener("htmx:beforeSwap", function (event) {
  var host = event.target.closest && event.target.closest("[data-swap-400]");
  if (host && event.detail.xhr.status === 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
