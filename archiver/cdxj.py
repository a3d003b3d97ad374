"""A CDXJ index kept next to the WARCs, so pywb can replay them without re-indexing.

Layout: ``<archive.dir>/warcs/`` holds the closed ``*.warc.gz`` files and one
sorted ``index.cdxj`` built by cdxj-indexer (``filename`` fields are bare file
names, relative to that directory). ``update_index`` adds every closed WARC
not yet in the index; call it after ``WarcWriter.close()`` and after
``warc.repair()``. Files still ``.open`` are not indexed.

Serving the archive with pywb, either way:

1. A config file pointing a fixed collection at the directory::

       pywb_config(Path("archives/warcs"))          # writes archives/pywb.yaml
       PYWB_CONFIG_FILE=archives/pywb.yaml wayback -p 8080

   then ``http://localhost:8080/archive/<14-digit timestamp>/<url>`` replays a page,
   ``.../<timestamp>id_/<url>`` returns the stored bytes unrewritten.

2. pywb's own directory layout (``wb-manager``: ``collections/NAME/archive/`` and
   ``collections/NAME/indexes/*.cdxj``), with both entries symlinks to the warcs
   directory: pywb reads every ``*.cdxj`` in ``indexes/`` and resolves each
   ``filename`` under ``archive/``::

       mkdir -p collections/archive
       ln -s "$PWD/archives/warcs" collections/archive/archive
       ln -s "$PWD/archives/warcs" collections/archive/indexes
       wayback -p 8080
"""

from __future__ import annotations

import heapq
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

INDEX_NAME = "index.cdxj"
COLLECTION = "archive"


def index_file(warc_path: Path) -> list[str]:
    """The sorted CDXJ lines (without newline) of one WARC file."""
    out = io.StringIO()
    CDXJIndexer(out, [str(warc_path)], sort=True).process_all()
    return out.getvalue().splitlines()


def update_index(directory: Path) -> list[Path]:
    """Merge every closed WARC of ``directory`` missing from ``index.cdxj`` into it.

    The index is rewritten sorted and replaced atomically. Returns the WARC files
    added (a file whose records are all non-indexable, such as a lone warcinfo, is
    looked at again next time; that costs little).
    """
    directory = Path(directory)
    index = directory / INDEX_NAME
    known = {_filename(line) for line in _lines(index)}
    new = sorted(p for p in directory.glob("*.warc.gz") if p.name not in known)
    lines = sorted(line for path in new for line in index_file(path))
    if lines:
        _replace(index, heapq.merge(_lines(index), lines))
    return new


def pywb_config(directory: Path, path: Path | None = None, collection: str = COLLECTION) -> Path:
    """Write a pywb config.yaml serving ``directory`` as ``collection``; return its path.

    The default path is ``<directory>/../pywb.yaml``. Start pywb with
    ``PYWB_CONFIG_FILE=<path> wayback -p 8080`` (see the module docstring).
    """
    directory = Path(directory).resolve()
    path = Path(path) if path else directory.parent / "pywb.yaml"
    text = (
        "# pywb configuration written by archiver: PYWB_CONFIG_FILE=this-file wayback -p 8080\n"
        "collections:\n"
        f"  {json.dumps(collection)}:\n"
        f"    index: {json.dumps(str(directory / INDEX_NAME))}\n"
        f"    archive_paths: {json.dumps(str(directory) + os.sep)}\n"
        "enable_auto_colls: false\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def _lines(index: Path) -> Iterator[str]:
    """The lines of an existing index, streamed."""
    if not index.exists():
        return
    with open(index, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n")


def _filename(line: str) -> str:
    try:
        return str(json.loads(line.split(" ", 2)[2]).get("filename", ""))
    except (IndexError, ValueError, AttributeError):
        return ""


def _replace(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
