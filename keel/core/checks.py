"""Checking a YAML or JSON document key by key, every problem kept with its path.

A process file, a plan file: each is read by a checker that collects every problem at
once ("stages[2].expected_days: -3 is outside 0–3650"), so one run reports them all.
The files' own checkers add the keys particular to them.
"""

from collections.abc import Sequence
from typing import Any


def kind_of(value: Any) -> str:
    """What a value is, in words for a problem: "a mapping", "a list", "text", …"""
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


class PathChecker:
    """Collects every problem with its path; `root` names the document's top level."""

    root = ""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path or self.root}: {message}")

    def mapping(self, value: Any, path: str, allowed: Sequence[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping of keys, found {kind_of(value)}")
            return None
        for key in value:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                self.error(where, f"unknown key (allowed: {', '.join(allowed)})")
        return value

    def text(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_length: int | None = None,
    ) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}", "is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.error(f"{path}.{key}", f"expected text, found {kind_of(value)}")
            return ""
        if max_length is not None and len(value.strip()) > max_length:
            self.error(f"{path}.{key}", f"is longer than {max_length} characters")
        return value.strip()

    def integer(
        self, data: dict[str, Any], key: str, path: str, low: int, high: int | None = None
    ) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(f"{path}.{key}", f"expected a whole number, found {kind_of(value)}")
            return None
        if value < low or (high is not None and value > high):
            bounds = f"{low}–{high}" if high is not None else f"at least {low}"
            self.error(f"{path}.{key}", f"{value} is outside {bounds}")
            return None
        return value
