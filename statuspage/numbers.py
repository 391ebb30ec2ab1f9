"""Whole numbers and ids as people and programs send them: ASCII digits only.

Python's ``int()``, ``str.isdigit()`` and a regex's ``\\d`` take every Unicode digit (an
Arabic-Indic "١" is 1, a fullwidth "１" too) and ``int()`` also takes "1_000" and spaces
around: an id typed or forged that way named another row than its text shows (issue 21).
Every id read from a URL (``web.converters``), a form, a query string or an API body, and
every whole number a form takes, is read here.
"""

from __future__ import annotations

import re
from typing import Optional

#: The largest id the database's integer column holds: a lookup beyond it is a 404, not
#: an error from PostgreSQL.
MAX_ID = 2**31 - 1

#: Up to 100 digits: a longer number is out of every range we take (and the caller says
#: which range); past 4,300 Python refuses to read it at all.
_WHOLE = re.compile(r"-?[0-9]{1,100}", re.ASCII)


def whole_number(value: object, *, signed: bool = False) -> Optional[int]:
    """``value`` (text, or an int that is not a bool) as a whole number written in ASCII
    digits (a leading minus only when ``signed``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if signed or value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _WHOLE.fullmatch(text) or (text.startswith("-") and not signed):
        return None
    return int(text)


def parse_id(value: object) -> Optional[int]:
    """A positive id that fits the database's integer column, else None."""
    number = whole_number(value)
    return number if number is not None and 0 < number <= MAX_ID else None
