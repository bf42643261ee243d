"""Refusal messages: the one place that writes what was refused, where, and the fix.

The form is `where: key 'k': problem. Fix: what to do` (tests check messages word for word);
`where` is a file, a data set or a check, `key` the config key at fault. Standard library only:
config.py imports it at planning.
"""

from __future__ import annotations

import difflib


def refusal(where, problem: str, fix: str, key: str | None = None, fix_on_own_line: bool = False) -> str:
    """`where: key 'key': problem. Fix: fix` (`where` a string or path); an empty `where` or `key` is left out;
    `fix_on_own_line` starts the fix on a new line (for multi-line texts such as a README)."""
    gap = "\n" if fix_on_own_line else " "
    return place(where, f"{problem}.{gap}Fix: {fix}", key)


def place(where, message: str, key: str | None = None) -> str:
    """`where: key 'key': message`, for a message that names its fix already (another refusal's)."""
    return ": ".join(str(part) for part in (where, f"key '{key}'" if key else "", message) if part)


def suggest(word, choices) -> str:
    """` (did you mean 'x'?)` for the choice closest to `word`, or '' where none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices if c is not None], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
