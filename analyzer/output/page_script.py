"""The report page's style and its one small script, inline so that the page opens from
disk and fetches nothing. The script sorts the connections table by a column, filters it by
outcome, and shows a packet's details (the JSON in #packet-details, keyed by frame) beside
the pointer over its arrow on a ladder. Without the script the page still reads: every
table is there in full, every figure with its labels."""

from __future__ import annotations

from typing import Final

STYLE: Final = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1320px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } .bad { color: #c00000; } .good { color: #2c7c2c; }
.wide { overflow: auto; max-height: 85vh; } #connections { font-size: 0.82em; }
#connections thead th { position: sticky; top: 0; z-index: 1; } #connections td, #connections th { padding: 0.2em 0.45em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.sides { white-space: nowrap; }
figure { margin: 0.3em 0 1em; overflow-x: auto; } figure svg { display: block; height: auto; }
figure svg text { white-space: pre; }
figure.ladder svg, figure.timeline svg { width: 100%; min-width: 1000px; }
.scroll { overflow-x: auto; max-width: 100%; }
code { background: #f6f6f6; padding: 0 0.2em; } td code { white-space: nowrap; }
td code.filter { white-space: normal; overflow-wrap: anywhere; display: block; max-height: 8em; overflow-y: auto; }
figure.backoff svg { max-width: 100%; height: auto; }
abbr[title] { text-decoration: underline dotted; cursor: help; }
.clock { background: #f4f7fb; border-left: 4px solid #8da9c4; padding: 0.4em 0.8em; }
.note { color: #555; font-size: 0.9em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.35em; vertical-align: -0.05em; }
th button { white-space: nowrap; font: inherit; font-weight: bold; background: none; border: none; padding: 0; cursor: pointer; }
th button::after { content: " \\2195"; color: #aaa; font-size: 0.8em; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; color: #333; }
th[aria-sort="descending"] button::after { content: " \\25BC"; color: #333; }
#connections tbody tr:hover { background: #f7f9fc; }
section.connection:target > h2, section.connection:target > h3 { background: #fff4cc; }
#connections td.notes:not(:empty) { min-width: 13em; } #connections td.outcome { min-width: 9em; }
dl.glossary dt { font-weight: bold; margin-top: 0.4em; } dl.glossary dd { margin-left: 1.5em; }
g.packet { cursor: help; } g.packet.hot path:not(.hit) { stroke-width: 3 !important; }
#packet-tip { position: fixed; z-index: 10; max-width: 36em; background: #fffef5; border: 1px solid #8a7a3a;
  box-shadow: 0 2px 6px rgba(0,0,0,0.25); padding: 0.4em 0.6em; font-size: 0.85em; pointer-events: none; }
#packet-tip table { margin: 0; font-size: 1em; } #packet-tip td, #packet-tip th { border: none; padding: 0.05em 0.4em; }
#packet-tip th { background: none; color: #555; font-weight: normal; white-space: nowrap; }
"""

SCRIPT: Final = """
(function () {
  "use strict";
  var table = document.getElementById("connections");
  if (table) {
    var body = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, column) {
      var button = th.querySelector("button");
      if (!button) return;
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.dataset.type === "number";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
          if (x === undefined) x = a.cells[column].textContent;
          if (y === undefined) y = b.cells[column].textContent;
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          // Ties in the connections' order whichever way: descending reversed them too.
          if (order === 0) return parseInt(a.dataset.id, 10) - parseInt(b.dataset.id, 10);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
    var filter = document.getElementById("outcome-filter");
    var shown = document.getElementById("rows-shown");
    if (filter) {
      var apply = function () {
        var count = 0;
        Array.prototype.forEach.call(body.rows, function (row) {
          var keep = !filter.value || row.dataset.outcome === filter.value;
          row.hidden = !keep;
          if (keep) count += 1;
        });
        if (!shown) return;
        // The filter counts every connection; the table lists only some of a large capture's.
        var total = parseInt(filter.options[filter.selectedIndex].dataset.total || "0", 10);
        shown.textContent = count + " of " + body.rows.length + " rows shown" +
          (total > count ? " (" + total.toLocaleString("en-US") + " such connections in the capture: the rest are not in the table)" : "");
      };
      filter.addEventListener("change", apply);
      apply();
    }
  }
  var source = document.getElementById("packet-details");
  var tip = document.getElementById("packet-tip");
  if (!source || !tip) return;
  var details = JSON.parse(source.textContent);
  function show(group, x, y) {
    var lines = details[group.id.slice(4)];
    if (!lines) { tip.hidden = true; return; }
    tip.textContent = "";
    var grid = document.createElement("table");
    lines.forEach(function (line) {
      var row = grid.insertRow();
      var what = document.createElement("th");
      what.textContent = line[0];
      row.appendChild(what);
      row.insertCell().textContent = line[1];
    });
    tip.appendChild(grid);
    tip.hidden = false;
    var left = Math.min(x + 16, window.innerWidth - tip.offsetWidth - 8);
    var top = y + 16 + tip.offsetHeight > window.innerHeight ? y - tip.offsetHeight - 12 : y + 16;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = Math.max(4, top) + "px";
  }
  var current = null;
  function point(group, x, y) {
    if (current !== group) {
      if (current) current.classList.remove("hot");
      current = group;
      if (group) group.classList.add("hot");
    }
    if (group) show(group, x, y); else tip.hidden = true;
  }
  document.querySelectorAll("figure.ladder g[id^='pkt-']").forEach(function (group) {
    group.classList.add("packet");
    group.setAttribute("tabindex", "0");
    // A thin arrow is hard to point at: a wide, invisible copy of its line takes the pointer.
    Array.prototype.slice.call(group.querySelectorAll("path")).forEach(function (path) {
      var hit = path.cloneNode(false);
      hit.setAttribute("class", "hit");
      hit.setAttribute("style", "fill: none; stroke: transparent; stroke-width: 12; pointer-events: stroke");
      group.appendChild(hit);
    });
    group.addEventListener("focus", function () {
      var box = group.getBoundingClientRect();
      point(group, box.right, box.top);
    });
    group.addEventListener("blur", function () { point(null); });
  });
  // What lies under the pointer, not only what is on top: a label over a band or beside an
  // arrow must not hide the packet it is about (and stays selectable text).
  document.querySelectorAll("figure.ladder").forEach(function (figure) {
    figure.addEventListener("mousemove", function (event) {
      var found = null;
      var under = document.elementsFromPoint(event.clientX, event.clientY);
      for (var i = 0; i < under.length && !found; i++) {
        var group = under[i].closest("g[id^='pkt-']");
        if (group && figure.contains(group)) found = group;
      }
      point(found, event.clientX, event.clientY);
    });
    figure.addEventListener("mouseleave", function () { point(null); });
  });
})();
"""
