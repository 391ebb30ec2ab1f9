"""Cleaning text that people type, once, before it is stored."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates
# (they can make a line read backwards), lone surrogates, and XML's non-characters.
_UNWANTED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def clean_text(value: str | None, *, single_line: bool = False) -> str:
    """Normalise line endings, drop invisible and XML-illegal characters, trim.

    The result is safe for PostgreSQL (no NUL), XML feeds (lxml) and email headers
    (no CR/LF when ``single_line``).
    """
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if single_line:
        value = " ".join(value.split("\n"))
    value = _UNWANTED.sub("", value)
    if single_line:
        value = " ".join(value.split())
    return value.strip()
