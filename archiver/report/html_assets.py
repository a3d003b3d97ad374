"""The HTML report's only style sheet and script, and the Content-Security-Policy allowing them.

The policy forbids every load (``default-src 'none'``) and allows exactly this
style sheet and this script by their SHA-256 hashes: nothing else can run or
be fetched, even if some text escaped its escaping. The script only filters
cards by state (initially from a ``#show=dead,changed`` fragment, so a filtered
view can be linked); without it the whole report is shown.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root{--ink:#1c2430;--muted:#5b6675;--line:#dfe3e8;--bg:#f6f7f9;--card:#fff;
--dead:#b42318;--failing:#c4320a;--changed:#7a2e98;--moved:#175cd3;--blocked:#6e5b1f;
--ok:#067647;--pending:#667085;--excluded:#475467}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 2px}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:16px;margin:0}
a{color:#175cd3;text-decoration:none}a:hover{text-decoration:underline}
.meta,.muted,small{color:var(--muted)}
code,.mono{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
.url{word-break:break-all}
.summary{display:grid;grid-template-columns:repeat(8,1fr);gap:10px;margin:18px 0 4px}
.tile{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--c);border-radius:8px;
padding:10px 12px}
.tile b{display:block;font-size:28px;line-height:1.1;color:var(--c)}
.tile span{font-size:13px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.tile.zero b{color:#98a2b3}
.s-dead{--c:var(--dead)}.s-failing{--c:var(--failing)}.s-changed{--c:var(--changed)}.s-moved{--c:var(--moved)}
.s-blocked{--c:var(--blocked)}.s-ok{--c:var(--ok)}.s-pending{--c:var(--pending)}.s-excluded{--c:var(--excluded)}
.badge{display:inline-block;min-width:64px;text-align:center;background:var(--c);color:#fff;border-radius:4px;
padding:1px 8px;font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.04em}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 18px}
.changes .panel{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:10px 28px}
.change h3{display:flex;gap:8px;align-items:center;margin-bottom:4px}
.change ul{margin:0;padding-left:18px}
.was{color:var(--muted);font-size:13px}
.change li{margin:0 0 6px}
.filters{display:none;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 14px}
.js .filters{display:flex}
.chip{display:inline-flex;gap:6px;align-items:center;border:1px solid var(--c);color:var(--c);border-radius:16px;
padding:3px 12px;font-weight:600;cursor:pointer;background:var(--card)}
.chip input{accent-color:var(--c);margin:0}
.filters button{font:inherit;border:1px solid var(--line);background:var(--card);border-radius:16px;padding:3px 12px;
cursor:pointer}
.shown{margin-left:auto;color:var(--muted)}
.article{margin:0 0 22px}
.article{border-top:1px solid var(--line);padding-top:14px}
.article>header{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline;margin:0 0 10px}
.article>header h3{font-size:17px}.article>header .src{font-size:13px}
.link{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--c);border-radius:8px;
padding:12px 16px;margin:0 0 10px}
.link>header{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center}
.link>header .url{font-weight:600}
.reason{font-weight:600;color:var(--c)}
.new{font-size:12px;border:1px solid currentColor;border-radius:4px;padding:0 6px;color:var(--c)}
.title{margin:6px 0 0;color:var(--muted)}.title q{color:var(--ink)}
.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0;font-size:13px}
.facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0}
.cites{margin:6px 0;padding-left:18px}.cites li{margin:3px 0}
.where{font-weight:600}.cites q{color:#344054}
table.ev{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0 4px}
.ev th,.ev td{text-align:left;vertical-align:top;padding:4px 10px 4px 0;border-top:1px solid #eef0f3}
.ev tr:first-child th{border-top:0;color:var(--muted);font-weight:500;font-size:12px;padding-bottom:2px}
.ev th{color:var(--muted);font-weight:600;white-space:nowrap}
.ev td.url{word-break:break-all}.ev code{font-size:12px;word-break:break-all}
.diff{margin-top:8px;border:1px solid var(--line);border-radius:6px;overflow:hidden}
.diff>p{margin:0;padding:6px 10px;background:#f2f4f7;font-size:13px}
.diff .body{padding:8px 10px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:14px;max-height:420px;
overflow:auto}
del{background:#fee4e2;color:#912018;text-decoration:line-through}
ins{background:#d1fadf;color:#05603a;text-decoration:none}
.gap{color:var(--muted);font-style:italic}
details summary{cursor:pointer;font-weight:600}
footer{margin-top:36px;font-size:13px;color:var(--muted)}
[hidden]{display:none!important}
@media (max-width:900px){.summary{grid-template-columns:repeat(4,1fr)}}
""".strip()

SCRIPT = """
(function () {
  var d = document, root = d.documentElement, body = d.body;
  root.className += " js";
  var boxes = [].slice.call(d.querySelectorAll(".filters input[type=checkbox]"));
  var cards = [].slice.call(d.querySelectorAll("article.link"));
  var groups = [].slice.call(d.querySelectorAll("section.article"));
  var out = d.getElementById("shown");
  function apply() {
    var on = {}, seen = {}, shown = 0;
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    cards.forEach(function (c) {
      var visible = on[c.getAttribute("data-state")] === true;
      c.hidden = !visible;
      if (visible && !seen[c.getAttribute("data-link")]) { seen[c.getAttribute("data-link")] = 1; shown++; }
    });
    groups.forEach(function (g) { g.hidden = !g.querySelector("article.link:not([hidden])"); });
    if (out) { out.textContent = String(shown); }
    body.setAttribute("data-shown", String(shown));
    body.setAttribute("data-filters", boxes.filter(function (b) { return b.checked; })
      .map(function (b) { return b.value; }).join(" "));
  }
  var wanted = /(?:^|[#&])show=([a-z,]*)/.exec(location.hash);
  if (wanted) {
    var states = wanted[1].split(",");
    boxes.forEach(function (b) { b.checked = states.indexOf(b.value) >= 0; });
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  [].slice.call(d.querySelectorAll(".filters button[data-set]")).forEach(function (button) {
    button.addEventListener("click", function () {
      var all = button.getAttribute("data-set") === "all";
      boxes.forEach(function (b) { b.checked = all; });
      apply();
    });
  });
  apply();
  body.setAttribute("data-ready", "1");
})();
""".strip()


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = (
    f"default-src 'none'; style-src '{_sha256(CSS)}'; script-src '{_sha256(SCRIPT)}'; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)
