// The page reads fine without this script: it only filters the examples and highlights cited lines.
(function () {
  "use strict";
  var highlighted = [];
  var active = [];

  // Highlight the lines every link in `links` cites (data-doc, data-from, data-to), and say so;
  // `trigger` is what was chosen: one evidence link, or a rule's id in the coverage matrix.
  function highlight(trigger, links) {
    highlighted.forEach(function (line) { line.classList.remove("hl"); });
    active.forEach(function (link) { link.classList.remove("active"); });
    highlighted = [];
    active = links;
    links.forEach(function (link) {
      var doc = link.getAttribute("data-doc");
      var to = parseInt(link.getAttribute("data-to"), 10);
      for (var n = parseInt(link.getAttribute("data-from"), 10); n <= to; n++) {
        var line = document.getElementById(doc + "-L" + n);
        if (line && highlighted.indexOf(line) < 0) { line.classList.add("hl"); highlighted.push(line); }
      }
      link.classList.add("active");
    });
    var section = document.getElementById(links[0].getAttribute("data-doc"));
    var status = document.getElementById("cited");
    status.textContent = "Highlighted: " + links.map(function (link) { return link.textContent; }).join(", ") +
      " of " + section.querySelector("h3").textContent + ". ";
    var from_ = trigger.closest("[id]");
    if (from_) {
      var back = document.createElement("a");
      back.href = "#" + from_.id;
      back.textContent = "Back to " + from_.id;
      status.appendChild(back);
    }
    if (!highlighted.length) return;
    var href = "#" + highlighted[0].id;
    var pane = document.getElementById("documents");
    if (getComputedStyle(pane).position === "sticky") {  // side by side: scroll the source pane only
      var top = highlighted[0].getBoundingClientRect().top - pane.getBoundingClientRect().top;
      pane.scrollTop += top - pane.clientHeight / 3;
      history.replaceState(null, "", href);
    } else {  // one column: go down to the source; Back returns to where the reader was
      history.pushState(null, "", href);
      highlighted[0].scrollIntoView({ block: "center" });
    }
  }

  function evidenceOf(row) {
    return Array.prototype.slice.call(row.querySelectorAll("a.ev"));
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.ev");
    if (link) {
      event.preventDefault();  // no jump of the whole page: the source pane scrolls to the lines
      highlight(link, [link]);
      return;
    }
    var show = event.target.closest("[data-show-policy]");
    if (show) {  // a count of the coverage matrix: the written examples it counts
      event.preventDefault();
      select.pol.value = show.getAttribute("data-show-policy");
      select.outcome.value = show.getAttribute("data-show-outcome");
      select.uc.value = "";
      select.status.value = "accepted";
      apply();
      document.getElementById("examples").scrollIntoView();
      return;
    }
    // A rule of the coverage matrix, by its id or anywhere in its row but another link: all its lines.
    var row = event.target.closest("tr[data-rule]");
    if (row && row.closest("#coverage") && (event.target.closest("a.rule-lines") || !event.target.closest("a"))) {
      event.preventDefault();
      var links = evidenceOf(row);
      if (links.length) highlight(row.querySelector("a.rule-lines") || row, links);
    }
  });

  var form = document.getElementById("filters");
  var select = {
    uc: document.getElementById("f-uc"),
    pol: document.getElementById("f-pol"),
    outcome: document.getElementById("f-outcome"),
    status: document.getElementById("f-status"),
  };
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.example"));
  var shown = document.getElementById("shown");

  function apply() {
    var uc = select.uc.value, pol = select.pol.value, outcome = select.outcome.value, status = select.status.value;
    var count = 0;
    cards.forEach(function (card) {
      var keep = (!uc || card.dataset.uc === uc) &&
        (!pol || (" " + card.dataset.pol + " ").indexOf(" " + pol + " ") >= 0) &&
        (!outcome || card.dataset.outcome === outcome) &&
        (!status || card.dataset.status === status);
      card.hidden = !keep;
      if (keep) count++;
    });
    shown.textContent = count + " of " + cards.length + " shown";
  }

  form.hidden = false;
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
})();
