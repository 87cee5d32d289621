"""Babel extraction of the catalog keys: Python calls, and `tr(KEY)` inside page templates.

The sign-in and profile pages are Jinja templates whose words are `{{ tr(KEY) }}`; the
Python extractor does not look inside strings, so templates (inline or in .html files) are
read for those calls here. Used by babel.cfg (`make locales-extract`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from babel.messages.extract import extract_python

TEMPLATE_CALL = re.compile(r"""\btr\(\s*(['"])([\w.]+)\1\s*[,)]""")


def _template_calls(source: str) -> Iterator[tuple[int, str, str, list[str]]]:
    # Reported as N_ (one argument, the key) whatever keywords the Python code uses.
    for match in TEMPLATE_CALL.finditer(source):
        yield source.count("\n", 0, match.start()) + 1, "N_", match.group(2), []


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator:
    """Keyword calls of a Python module, then the template calls in its strings."""
    source = fileobj.read()
    fileobj.seek(0)
    yield from extract_python(fileobj, keywords, comment_tags, options)
    yield from _template_calls(source.decode(options.get("encoding", "utf-8")))


def extract_templates(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any):
    """The `tr(KEY)` calls of a template file."""
    yield from _template_calls(fileobj.read().decode(options.get("encoding", "utf-8")))
