"""The domain's exceptions: every operation raises these, every view catches them."""

from __future__ import annotations

from typing import Mapping


class ValidationError(ValueError):
    """Bad input: ``errors`` maps a form field to its message. Nothing was changed."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class NotAllowed(PermissionError):
    """The actor's role may not do this."""
