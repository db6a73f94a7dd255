"""Remove credentials from URLs before they reach any message, log or output file."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL_IN_TEXT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """Replace the user-info part of ``url`` with ``***``; other parts are kept.

    ``https://user:token@host/simple`` becomes ``https://***@host/simple``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def redact_text(text: str) -> str:
    """Redact every URL found in free text (for example a subprocess's stderr)."""
    return _URL_IN_TEXT_RE.sub(lambda match: redact_url(match.group(0)), text)
