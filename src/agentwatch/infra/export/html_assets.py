"""The style sheet and script inlined into every HTML export (nothing is ever fetched)."""

from __future__ import annotations

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""The page may load nothing: even a slip in escaping could not reach the network."""

CSS = """
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: var(--background);
  color: var(--foreground); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; color: var(--primary); }
h2 { font-size: 16px; margin: 28px 0 10px; color: var(--primary); }
.muted, .hint { opacity: .72; }
.hint { font-size: 12px; margin: -6px 0 8px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr));
  gap: 12px; margin-top: 18px; }
.card { background: var(--surface); border: 1px solid var(--panel); border-radius: 8px;
  padding: 12px 14px; }
.card .v { font-size: 18px; font-weight: 600; white-space: nowrap; }
.card .k { font-size: 12px; opacity: .75; }
.card.bad .v { color: var(--warning); }
.wrap { overflow-x: auto; background: var(--surface); border: 1px solid var(--panel);
  border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--panel); text-align: left;
  white-space: nowrap; font-size: 12.5px; }
td.clip { max-width: 200px; overflow: hidden; text-overflow: ellipsis; }
td.clip.short { max-width: 150px; }
td.wrapok { white-space: normal; min-width: 220px; }
th { background: var(--panel); font-weight: 600; font-size: 12.5px; position: sticky; top: 0; }
th.num, td.num { text-align: right; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
tbody tr:hover { background: var(--panel); }
tr.total td { font-weight: 600; border-top: 2px solid var(--panel); }
.est { color: var(--aw-estimate); }
.unpriced { color: var(--warning); }
.st-active { color: var(--aw-active); } .st-idle { color: var(--aw-idle); }
.st-looping { color: var(--aw-looping); font-weight: 600; }
.st-suspended { color: var(--aw-suspended); } .st-ended { color: var(--aw-ended); }
.sev-critical { color: var(--error); font-weight: 600; } .sev-warning { color: var(--warning); }
.sev-info { color: var(--aw-idle); }
.share { display: inline-block; width: 90px; height: 8px; background: var(--panel);
  border-radius: 4px; vertical-align: middle; margin-right: 6px; overflow: hidden; }
.share > span { display: block; height: 100%; background: var(--secondary); }
.chart { background: var(--surface); border: 1px solid var(--panel); border-radius: 8px;
  padding: 10px; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .bar { fill: var(--primary); } .chart .bar:hover { fill: var(--accent); }
.chart .grid { stroke: var(--panel); stroke-width: 1; }
.chart text { fill: var(--foreground); font-size: 11px; opacity: .8; }
details { background: var(--surface); border: 1px solid var(--panel); border-radius: 8px;
  margin: 8px 0; padding: 6px 12px; }
summary { cursor: pointer; font-weight: 600; }
.entry { border-top: 1px solid var(--panel); padding: 6px 0; }
.entry .who { font-size: 12px; opacity: .8; }
.entry.prompt .who { color: var(--success); } .entry.tool_call .who { color: var(--accent); }
.entry.error .who { color: var(--error); }
pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0 0; padding: 8px;
  background: var(--background); border-radius: 6px; max-height: 420px; overflow: auto; }
.warn { color: var(--warning); }
footer { margin-top: 32px; font-size: 12px; opacity: .72; }
"""

SCRIPT = """
(function () {
  function value(cell) {
    var v = cell.getAttribute('data-v');
    if (v === null) { v = cell.textContent.trim(); }
    var n = parseFloat(v);
    return (v !== '' && !isNaN(n) && isFinite(v)) ? n : v.toLowerCase();
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
      return !r.classList.contains('total');
    });
    var totals = Array.prototype.slice.call(body.rows).filter(function (r) {
      return r.classList.contains('total');
    });
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    rows.sort(function (a, b) {
      var x = value(a.cells[col]), y = value(b.cells[col]);
      var c = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0)
        : (typeof x === 'number' ? -1 : 1);
      return asc ? c : -c;
    });
    rows.concat(totals).forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.title = 'Sort by this column';
      th.addEventListener('click', function () { sortBy(t, i, th); });
    });
  });
})();
"""
