"""Passwords never leave the process (issue 14): every URI or message a stage prints, logs,
tags or saves passes through :func:`mask`, which keeps the user, host and database and
replaces the password of any ``scheme://user:password@host`` in the text by ``***``.

Prefer no password in params at all: PostgreSQL's client reads ``PGPASSWORD`` or
``~/.pgpass`` when the URI has none (``postgresql://alice@db-host/mlflow``).
"""

from __future__ import annotations

import re

# scheme://user:  password  @ — the password may hold anything but "@", "/" and whitespace
# (a literal "@" or "/" in a password must be percent-encoded in a URI anyway)
_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*:)[^\s/@]+(?=@)")


def mask(text: object) -> str:
    """`text` as a string with every URI password replaced by ***."""
    return _PASSWORD.sub(lambda m: m["head"] + "***", str(text))
