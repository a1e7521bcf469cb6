// The page reads fine without this script: it only filters the examples and highlights cited lines.
(function () {
  "use strict";
  var highlighted = [];
  var active = null;

  function highlight(link) {
    var doc = link.getAttribute("data-doc");
    var from = parseInt(link.getAttribute("data-from"), 10);
    var to = parseInt(link.getAttribute("data-to"), 10);
    highlighted.forEach(function (line) { line.classList.remove("hl"); });
    highlighted = [];
    if (active) active.classList.remove("active");
    for (var n = from; n <= to; n++) {
      var line = document.getElementById(doc + "-L" + n);
      if (line) { line.classList.add("hl"); highlighted.push(line); }
    }
    active = link;
    link.classList.add("active");
    var section = document.getElementById(doc);
    var status = document.getElementById("cited");
    status.textContent = "Highlighted: " + link.textContent + " of " + section.querySelector("h3").textContent + ". ";
    var from_ = link.closest("[id]");
    if (from_) {
      var back = document.createElement("a");
      back.href = "#" + from_.id;
      back.textContent = "Back to " + from_.id;
      status.appendChild(back);
    }
    if (!highlighted.length) return;
    var pane = document.getElementById("documents");
    if (getComputedStyle(pane).position === "sticky") {  // side by side: scroll the source pane only
      var top = highlighted[0].getBoundingClientRect().top - pane.getBoundingClientRect().top;
      pane.scrollTop += top - pane.clientHeight / 3;
      history.replaceState(null, "", link.getAttribute("href"));
    } else {  // one column: go down to the source; Back returns to the example
      history.pushState(null, "", link.getAttribute("href"));
      highlighted[0].scrollIntoView({ block: "center" });
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.ev");
    if (link) {
      event.preventDefault();  // no jump of the whole page: the source pane scrolls to the lines
      highlight(link);
      return;
    }
    var show = event.target.closest("[data-show-policy]");
    if (show) {
      select.pol.value = show.getAttribute("data-show-policy");
      select.uc.value = "";
      select.status.value = "";
      apply();
      document.getElementById("examples").scrollIntoView();
    }
  });

  var form = document.getElementById("filters");
  var select = {
    uc: document.getElementById("f-uc"),
    pol: document.getElementById("f-pol"),
    status: document.getElementById("f-status"),
  };
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.example"));
  var shown = document.getElementById("shown");

  function apply() {
    var uc = select.uc.value, pol = select.pol.value, status = select.status.value, count = 0;
    cards.forEach(function (card) {
      var keep = (!uc || card.dataset.uc === uc) &&
        (!pol || (" " + card.dataset.pol + " ").indexOf(" " + pol + " ") >= 0) &&
        (!status || card.dataset.status === status);
      card.hidden = !keep;
      if (keep) count++;
    });
    shown.textContent = count + " of " + cards.length + " shown";
  }

  form.hidden = false;
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  document.querySelectorAll("[data-show-policy]").forEach(function (button) { button.hidden = false; });
})();
