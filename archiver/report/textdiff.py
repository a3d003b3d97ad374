"""Main-text diffs for ``changed`` links, condensed to the changes and some context.

The word-level operations come from :func:`archiver.check.diff.diff_ops`
(``("equal" | "delete" | "insert", text)``); here they are tidied (whitespace
shared by a replacement moves out of it), long unchanged runs become gaps
with some context kept around each change, and the amount of text shown is
bounded.
"""

from __future__ import annotations

from ..check.diff import diff_ops
from .model import TextDiff

MAX_DIFF_CHARS = 100_000  # per side; longer texts are cut before diffing
CONTEXT_CHARS = 120  # unchanged text kept on each side of a change
SHOWN_CHARS = 4_000  # a diff shows about this much text; later changes are counted, not shown
MIN_GAP_CHARS = 200  # unchanged text is only elided when at least this much would go


def _merge(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join neighbouring ops of the same kind and drop empty ones."""
    merged: list[tuple[str, str]] = []
    for op, text in ops:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def _common_edge(a: str, b: str, *, trailing: bool) -> str:
    """The whitespace both texts start (or end) with."""
    if trailing:
        a, b = a[::-1], b[::-1]
    a, b = a[: len(a) - len(a.lstrip())], b[: len(b) - len(b.lstrip())]
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size][::-1] if trailing else a[:size]


def _tidy(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Move whitespace shared by a replaced and a replacing text out of the change ("30 " -> "40 ")."""
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(ops):
        op, text = ops[index]
        if op == "delete" and index + 1 < len(ops) and ops[index + 1][0] == "insert":
            new = ops[index + 1][1]
            lead = _common_edge(text, new, trailing=False)
            trail = _common_edge(text[len(lead):], new[len(lead):], trailing=True)
            old_core, new_core = text[len(lead): len(text) - len(trail)], new[len(lead): len(new) - len(trail)]
            if old_core and new_core:
                out += [("equal", lead), ("delete", old_core), ("insert", new_core), ("equal", trail)]
                index += 2
                continue
        out.append((op, text))
        index += 1
    return _merge(out)


def _head(text: str, size: int) -> str:
    """The first ``size`` characters, cut back to a word boundary."""
    cut = text[:size]
    space = cut.rfind(" ")
    return cut[: space + 1] if space > size // 2 else cut


def _tail(text: str, size: int) -> str:
    """The last ``size`` characters, cut forward to a word boundary."""
    cut = text[-size:]
    space = cut.find(" ")
    return cut[space:] if -1 < space < size // 2 else cut


def _gap(skipped: int) -> tuple[str, str]:
    return ("gap", f"[… {skipped:,} characters unchanged …]")


def condense(ops: list[tuple[str, str]], context: int = CONTEXT_CHARS,
             shown: int = SHOWN_CHARS) -> list[tuple[str, str]]:
    """Keep the changes with ``context`` characters around each; long unchanged runs become gaps.

    After about ``shown`` characters the remaining changes are summed up in a last gap.
    """
    ops = _tidy(_merge(ops))
    out: list[tuple[str, str]] = []
    last, size = len(ops) - 1, 0
    for index, (op, text) in enumerate(ops):
        if size > shown:
            hidden = sum(1 for kind, _ in ops[index:] if kind != "equal")
            if hidden:
                out.append(("gap", f"[… {hidden:,} more change{'s' if hidden != 1 else ''} not shown …]"))
            break
        if op != "equal" or len(text) <= 2 * context + MIN_GAP_CHARS:
            out.append((op, text))
            size += len(text)
            continue
        head = _head(text, context) if index > 0 else ""
        tail = _tail(text, context) if index < last else ""
        if head:
            out.append(("equal", head))
        out.append(_gap(len(text) - len(head) - len(tail)))
        if tail:
            out.append(("equal", tail))
        size += len(head) + len(tail)
    return out


def text_diff(cited: dict[str, str | None] | None, live: dict[str, str | None] | None) -> TextDiff:
    """The condensed diff between two ``texts`` rows (title, text), or a note saying why there is none."""
    if cited is None or live is None:
        missing = "cited copy" if cited is None else "live page"
        return TextDiff((), cited.get("title") if cited else None, live.get("title") if live else None,
                        False, False, False,
                        note=f"no extracted main text of the {missing} to compare")
    a, b = cited.get("text") or "", live.get("text") or ""
    truncated = len(a) > MAX_DIFF_CHARS or len(b) > MAX_DIFF_CHARS
    ops = condense(diff_ops(a[:MAX_DIFF_CHARS], b[:MAX_DIFF_CHARS])) if a != b else []
    title_changed = (cited.get("title") or "") != (live.get("title") or "")
    note = None if a != b else "main text identical to the cited copy"
    return TextDiff(tuple(ops), cited.get("title"), live.get("title"), title_changed, a != b, truncated, note)
