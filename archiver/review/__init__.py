"""The review workbench (SPEC §9): decisions, the `serve` web app, replay, notifications.

    decisions.py  accept / false alarm / ignore / note, undo, and how checks respect them
    app.py        the workbench: live report, link pages, the JSON API (Flask)
    pages.py      the workbench's HTML, escaped
    assets.py     its style sheet and script (served from its own origin)
    security.py   token login, CSRF, Content-Security-Policy and other headers
    replay.py     pywb over warcs/ and index.cdxj, with Memento, on its own origin
    server.py     one process serving both origins (gevent, as pywb itself)
    notify.py     after a sweep: newly dead, changed or moved links to Apprise targets
    urls.py       where the workbench and its replay are reached (for reports)

Only ``decisions``, ``notify`` and ``urls`` are imported outside ``archiver serve``;
they import nothing heavy.
"""
