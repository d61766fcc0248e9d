"""The fleet page's style and script (render/html.py): constant text, whose hashes the
page's Content-Security-Policy names, and the script's row counter in the language of the
run."""

from __future__ import annotations

import json
import re

from nodedoctor.i18n import _

STYLE = """
:root{--err:#c62828;--warn:#b26a00;--info:#1565c0;--ok:#2e7d32;--mute:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#111827;
background:#f9fafb}
header{padding:16px 24px;background:#111827;color:#f9fafb}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#d1d5db}
main{padding:16px 24px}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin-bottom:12px;
padding:10px 12px;background:#fff;border:1px solid var(--line);border-radius:6px}
.filters label{display:flex;gap:6px;align-items:center}
.filters select,.filters input[type=search]{font:inherit;padding:3px 6px}
#visible-count{margin-left:auto;color:var(--mute)}
.scroll{overflow:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f3f4f6;z-index:1}
th.rule{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:600;
text-align:left}
th.rule .n{color:var(--mute);font-weight:400}
td.node .name{font-weight:600}
td.node .meta{color:var(--mute);font-size:12px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.cell{text-align:center;min-width:34px}
.cell button{font:inherit;font-weight:700;border:0;border-radius:4px;padding:2px 7px;color:#fff;
cursor:pointer}
.sev-error button,.badge.sev-error{background:var(--err)}
.sev-warning button,.badge.sev-warning{background:var(--warn)}
.sev-info button,.badge.sev-info{background:var(--info)}
td.pass{color:var(--ok)}
td.skip{color:var(--mute)}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:0 6px;font-size:12px;
font-weight:700}
h2{font-size:16px;margin:24px 0 8px}
.hidden{display:none}
dialog{max-width:min(900px,95vw);border:1px solid var(--line);border-radius:8px;padding:0}
dialog::backdrop{background:rgba(17,24,39,.45)}
.detail{padding:16px 20px}
.detail h3{margin:0 0 4px;font-size:16px}
.detail .where{color:var(--mute);margin:0 0 12px}
.finding{border-top:1px solid var(--line);padding-top:10px;margin-top:10px}
.finding h4{margin:0 0 6px;font-size:15px}
.finding dt{font-weight:600;color:#374151;margin-top:6px}
.finding dd{margin:2px 0 0 0}
pre{background:#f3f4f6;padding:6px 8px;border-radius:4px;white-space:pre-wrap;
word-break:break-word;margin:2px 0}
.close{float:right;font:inherit;margin:10px}
.empty{color:var(--mute);padding:12px}
"""

SCRIPT = """
(function () {
  "use strict";
  var rank = {"": 0, "info": 1, "warning": 2, "error": 3};
  var sevSel = document.getElementById("f-severity");
  var ruleSel = document.getElementById("f-rule");
  var nodeBox = document.getElementById("f-node");
  var problemsBox = document.getElementById("f-problems");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#matrix tbody tr.node"));
  var columns = document.querySelectorAll("[data-col]");
  var counter = document.getElementById("visible-count");
  function apply() {
    var min = rank[sevSel.value] || 0;
    var rule = ruleSel.value;
    var needle = nodeBox.value.trim().toLowerCase();
    var onlyProblems = problemsBox.checked;
    var shown = 0;
    rows.forEach(function (row) {
      var ok = !needle || row.getAttribute("data-node").toLowerCase().indexOf(needle) >= 0;
      var cells = row.querySelectorAll("td[data-rank]");
      var best = 0;
      for (var i = 0; i < cells.length; i++) {
        if (rule && cells[i].getAttribute("data-rule") !== rule) { continue; }
        best = Math.max(best, Number(cells[i].getAttribute("data-rank")));
      }
      if (ok && (min > 0 || rule || onlyProblems)) { ok = best > 0 && best >= min; }
      row.classList.toggle("hidden", !ok);
      if (ok) { shown++; }
    });
    for (var j = 0; j < columns.length; j++) {
      var col = columns[j];
      col.classList.toggle("hidden", !!rule && col.getAttribute("data-col") !== rule);
    }
    counter.textContent = shown + " of " + rows.length + " nodes";
  }
  [sevSel, ruleSel, problemsBox].forEach(function (el) { el.addEventListener("change", apply); });
  nodeBox.addEventListener("input", apply);
  var dialog = document.getElementById("viewer");
  var body = document.getElementById("viewer-body");
  document.getElementById("matrix").addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-detail]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-detail"));
    if (!source) { return; }
    body.replaceChildren(source.content.cloneNode(true));
    dialog.showModal();
  });
  document.getElementById("viewer-close").addEventListener("click", function () {
    dialog.close();
  });
  apply();
})();
"""


#: The script's line that counts the rows shown; its words follow the language.
_COUNTER = 'counter.textContent = shown + " of " + rows.length + " nodes";'


def script() -> str:
    """The page's script, its counter's words in the current language (English: the script
    as written). The words are JSON strings, which are JavaScript strings; ``<`` is escaped so
    that no text can end the script element."""
    template = _("{shown} of {total} nodes")
    parts: list[str] = []
    for i, piece in enumerate(re.split(r"(\{shown\}|\{total\})", template)):
        if i % 2:
            parts.append("shown" if piece == "{shown}" else "rows.length")
        elif piece:
            parts.append(json.dumps(piece, ensure_ascii=False).replace("<", "\\u003c"))
    return SCRIPT.replace(_COUNTER, f"counter.textContent = {' + '.join(parts)};")
