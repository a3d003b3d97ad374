"""Sharing the evidence (SPEC §10).

- :mod:`.wacz`: ``archiver export --wacz``, a WACZ package of the stored copies of selected links.
- :mod:`.robust_links`: the Robust Links form of a citation (``links --format robust-links``, the workbench).
- :mod:`.memento`: other web archives asked through Memento (TimeGate, TimeMap) for dead and changed
  links; their answers become the reports' ``alternatives``.
- :mod:`.spn`: newly cited URLs submitted to the Internet Archive's Save Page Now 2 (``[external] submit``).
"""
