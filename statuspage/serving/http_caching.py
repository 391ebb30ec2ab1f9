"""HTTP caching helpers of the render cache: encodings, compressed bodies, validators."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Iterable, Optional

try:  # optional: brotli is smaller than gzip by a fifth on these pages
    import brotli
except ImportError:  # pragma: no cover - the dependency is declared
    brotli = None

_COMPRESSIBLE = ("text/", "application/json", "application/rss+xml", "application/atom+xml",
                 "application/xml", "image/svg+xml", "application/javascript")


def compressible(headers: Iterable[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.startswith(_COMPRESSIBLE)
    return False


def gzip_bytes(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=9, mtime=0)


def brotli_bytes(body: bytes) -> Optional[bytes]:
    if brotli is None:
        return None
    return brotli.compress(body, quality=9)


def body_etag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


_ENCODING_TOKENS = re.compile(r"\s*([a-zA-Z0-9*_-]+)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")


def choose_encoding(accept_encoding: str, available: Iterable[str]) -> str:
    """The best of ``available`` ("br", "gzip") that the client accepts, or ""."""
    accepted = {}
    for part in accept_encoding.split(","):
        m = _ENCODING_TOKENS.fullmatch(part)
        if not m:
            continue
        try:
            q = float(m.group(2)) if m.group(2) is not None else 1.0
        except ValueError:
            continue
        accepted[m.group(1).lower()] = q
    for encoding in ("br", "gzip"):
        if encoding in available:
            q = accepted.get(encoding, accepted.get("*", 0.0))
            if q > 0:
                return encoding
    return ""


def view_last_modified(headers: Iterable[tuple[str, str]]) -> Optional[datetime]:
    """The Last-Modified a view set itself (the feeds do: their newest entry), or None."""
    for name, value in headers:
        if name.lower() == "last-modified":
            try:
                return parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
    return None


def not_modified_since(if_modified_since: str, modified: int) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    return modified <= since.timestamp()


def etag_matches(if_none_match: str, etags: frozenset) -> bool:
    """RFC 9110 weak comparison of If-None-Match against the entry's tags (``*`` matches)."""
    if if_none_match.strip() == "*":
        return True
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag in etags:
            return True
    return False
