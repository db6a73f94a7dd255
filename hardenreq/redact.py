"""Remove secrets from URLs and lines before they reach any message, log, report or lock.

What counts as a secret, and what stays (the README's "Secrets and output channels" says the
same for users):

- userinfo (``user:password@``), even when the password holds an unencoded ``/``, ``?``,
  ``#`` or ``@``: everything up to the last ``@`` that ends it becomes ``***``;
- query values (``?token=...`` becomes ``?token=***``), and fragment values except pip's own
  ``sha256=``/``egg=``/``subdirectory=`` keys;
- token-like words anywhere in the path, query or fragment: a run of 16 or more ASCII letters
  and digits that mixes both; a run of 24 or more letters, digits, ``-`` and ``_`` with at
  least three upper-case and three lower-case letters and two digits (base64url); a UUID.
  ``/files/8f3kq9x2LmT7wPz4/simple`` becomes ``/files/***/simple``. Project names, versions
  and wheel filenames do not match (``cp313-cp313-manylinux_2_17_x86_64`` is lower-case);
  long hex digests in a path do, which costs nothing but a shorter URL;
- the values of ``${VARIABLES}`` a file expanded, when the caller knows them
  (``redact_values``).

Scheme, host, port and the shape of the path stay, so a message still says which index was
asked. Every function scans its input once, with no backtracking pattern: 1 MB of hostile
text takes milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = [
    "LINE_PREFIX",
    "MASK",
    "has_credentials",
    "redact_line",
    "redact_text",
    "redact_url",
    "redact_values",
    "register_secret",
    "strip_userinfo",
    "uses_secret",
]

MASK: Final = "***"
LINE_PREFIX: Final = 20
"""Characters of an unparsable included line that ``redact_line`` may show, at most."""

_SCHEME_CHARS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-"
_NOT_SCHEME_START: Final = "0123456789+.-"
# Characters that end a sentence or close a quote around a URL in a message; they are put
# back after the URL is redacted, so a masked query value does not swallow them.
_TRAILING: Final = "'\"`)]}>.,;:!?"
_WHITESPACE_RE: Final = re.compile(r"(\s+)")
_DELIMITER_RE: Final = re.compile(r"[/?#]")
_PATH_END_RE: Final = re.compile(r"[?#]")
_HOST_RE: Final = re.compile(r"(?:\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9.-]*)(?::[0-9]*)?")
# A possessive-free but backtracking-free shape: a single character class with a lower
# bound, so each match is found in one left-to-right pass.
_RUN_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,}")
_WORD_RE: Final = re.compile(r"[A-Za-z0-9]{16,}")
_UUID_RE: Final = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
_LETTER_RE: Final = re.compile(r"[A-Za-z]")
_DIGIT_RE: Final = re.compile(r"[0-9]")
_LEADING_WORD_RE: Final = re.compile(r"[A-Za-z0-9._-]*")
_SHORT_WORD_RE: Final = re.compile(r"[A-Za-z0-9]{12,}")
# pip's own fragment keys: digests are public, egg and subdirectory are names.
_PUBLIC_FRAGMENT_KEYS: Final = frozenset(
    {"sha1", "sha224", "sha256", "sha384", "sha512", "md5", "egg", "subdirectory"}
)


def _mixes_letters_and_digits(word: str) -> bool:
    return _LETTER_RE.search(word) is not None and _DIGIT_RE.search(word) is not None


def _token_like_run(run: str) -> bool:
    # Random base64url has both cases and digits; names and wheel tags
    # (cp313-cp313-manylinux_2_17_x86_64) are lower-case, or lack one of the three.
    if len(run) < 24:
        return False
    upper = sum(map(str.isupper, run))
    lower = sum(map(str.islower, run))
    return (
        upper >= 3
        and lower >= 3
        and len(run) - upper - lower - run.count("-") - run.count("_") >= 2
    )


def _looks_random(word: str) -> bool:
    """A leading word that could be the start of a token or of key material: a run of 12+
    letters and digits mixing both, or of 16+ that is not plain lower-case letters
    (``MIIEvQIBADANBgkqhkiG`` of a PEM body; ``djangorestframework`` stays)."""
    return any(
        _mixes_letters_and_digits(run) or (len(run) >= 16 and not (run.isalpha() and run.islower()))
        for run in _SHORT_WORD_RE.findall(word)
    )


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return MASK if _mixes_letters_and_digits(word) else word


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if _token_like_run(run):
        return MASK
    return _WORD_RE.sub(_mask_word, run)


def _mask_tokens(text: str) -> str:
    """``text`` with every token-like word (see the module docstring) replaced by ``***``."""
    return _RUN_RE.sub(_mask_run, _UUID_RE.sub(MASK, text))


def _mask_pairs(text: str, *, public: frozenset[str] = frozenset()) -> str:
    """A query or fragment: every ``key=value`` keeps its key; values become ``***``."""
    pairs = []
    for pair in text.split("&"):
        key, equals, value = pair.partition("=")
        if equals and value and key.lower() not in public:
            pairs.append(f"{_mask_tokens(key)}={MASK}")
        elif equals:
            pairs.append(f"{_mask_tokens(key)}={value}")
        else:
            pairs.append(_mask_tokens(key))
    return "&".join(pairs)


def _looks_like_host(authority: str) -> bool:
    """``host[:port]`` that URL parsing would read as a real host: a dotted name,
    ``localhost`` or an IP literal, with a numeric port. ``alice:S3CRET`` is not one."""
    if _HOST_RE.fullmatch(authority) is None:
        return False
    if authority.startswith("["):
        return True
    host = authority.partition(":")[0]
    return "." in host or host.lower() == "localhost"


def _delimiter(text: str) -> int:
    found = _DELIMITER_RE.search(text)
    return len(text) if found is None else found.start()


def _split_userinfo(rest: str) -> tuple[bool, str, str]:
    """``rest`` (what follows ``scheme://``) as (has userinfo, host[:port], path and on)."""
    end = _delimiter(rest)
    authority = rest[:end]
    at = authority.rfind("@")
    host = authority[at + 1 :]
    last_at = rest.rfind("@")
    # A password with an unencoded "/", "?", "#" or "@" ends the authority early, and what
    # is left before the delimiter is no host ("alice:S3CRET", or "ss" of "p@ss/w"): the
    # userinfo then runs to the last "@".
    if last_at > end and not _looks_like_host(host):
        after = rest[last_at + 1 :]
        after_end = _delimiter(after)
        return True, after[:after_end], after[after_end:]
    return at >= 0, host, rest[end:]


# Values ${VARIABLES} of the user's files expanded to in this run (register_secret): only
# knowing them hides a short token, wherever it shows up (a URL, pip's stderr).
_SECRETS: set[str] = set()
_MIN_SECRET = 4


def register_secret(value: str) -> None:
    """Remember a value that must never be shown (an expanded ``${VARIABLE}``): every later
    ``redact_text`` and ``redact_url`` masks it. Values shorter than 4 characters are not
    kept (they would hide ordinary text and guard little)."""
    if len(value) >= _MIN_SECRET:
        _SECRETS.add(value)


def forget_secrets() -> None:
    """Forget every registered secret (between runs in one process, such as tests)."""
    _SECRETS.clear()


def _known(text: str) -> str:
    return redact_values(text, _SECRETS, min_length=_MIN_SECRET) if _SECRETS else text


def redact_url(url: str) -> str:
    """``url`` with its secrets masked: userinfo, query values, token-like path words.

    ``https://user:token@index.example.com/simple`` becomes
    ``https://***@index.example.com/simple``; ``http://alice:S3CRET/PW@host/simple`` (an
    unencoded ``/`` in the password) becomes ``http://***@host/simple``;
    ``https://index.example.com/simple?token=abc`` becomes ``...simple?token=***``. A text
    without ``://`` is read as ``[userinfo@]host/path``. Never raises; linear in ``url``.
    """
    scheme_end = url.find("://")
    prefix, rest = (url[: scheme_end + 3], url[scheme_end + 3 :]) if scheme_end >= 0 else ("", url)
    masked, host, tail = _split_userinfo(rest)
    path_end = _PATH_END_RE.search(tail)
    cut = len(tail) if path_end is None else path_end.start()
    path, rest_of_tail = tail[:cut], tail[cut:]
    query, fragment = "", None
    if rest_of_tail.startswith("?"):
        query_text, hash_mark, fragment_text = rest_of_tail[1:].partition("#")
        query = "?" + _mask_pairs(query_text)
        fragment = fragment_text if hash_mark else None
    elif rest_of_tail.startswith("#"):
        fragment = rest_of_tail[1:]
    shown = prefix + (f"{MASK}@" if masked else "") + host + _mask_tokens(path) + query
    if fragment is not None:
        shown += "#" + _mask_pairs(fragment, public=_PUBLIC_FRAGMENT_KEYS)
    return _known(shown)


def _url_start(token: str) -> int:
    """Where the first ``scheme://`` URL starts in a whitespace-free token, or -1."""
    floor = 0
    found = token.find("://")
    while found >= 0:
        # A scheme holds no ":" or "/", so it cannot reach back past the previous "://".
        head = token[floor:found]
        candidate = head[len(head.rstrip(_SCHEME_CHARS)) :]
        scheme = candidate.lstrip(_NOT_SCHEME_START)
        if scheme:
            return found - len(scheme)
        floor = found + 3
        found = token.find("://", floor)
    return -1


def _redact_token(token: str) -> str:
    start = _url_start(token)
    if start < 0:
        return token
    url = token[start:]
    core = url.rstrip(_TRAILING)
    return token[:start] + redact_url(core) + url[len(core) :]


def redact_text(text: str) -> str:
    """Free text (a message, a subprocess's stderr) with every ``scheme://`` URL redacted
    by ``redact_url``. A URL runs to the next whitespace; closing punctuation stays."""
    if "://" not in text:
        return _known(text)
    parts = _WHITESPACE_RE.split(text)
    return _known("".join(_redact_token(part) if "://" in part else part for part in parts))


def has_credentials(text: str) -> bool:
    """Whether a ``scheme://`` URL in ``text`` carries userinfo (``user:password@``,
    ``token@``), read as ``redact_url`` reads it.

    Narrower than "would ``redact_text`` change it": a lock may hold a direct URL whose path
    has long public digests, but never a URL that logs in.
    """
    for part in _WHITESPACE_RE.split(text):
        start = _url_start(part) if "://" in part else -1
        if start >= 0 and _split_userinfo(part[part.index("://", start) + 3 :])[0]:
            return True
    return False


def strip_userinfo(url: str) -> str:
    """``url`` without its userinfo (``user:password@``), read as ``redact_url`` reads it
    (a password with an unencoded ``/`` or ``@`` included); everything else unchanged.

    For URLs a lock records: the address stays usable, the credentials do not travel.
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    masked, host, tail = _split_userinfo(url[scheme_end + 3 :])
    return url[: scheme_end + 3] + host + tail if masked else url


def uses_secret(text: str) -> bool:
    """Whether ``text`` holds a value registered with ``register_secret`` (an expanded
    ``${VARIABLE}``): such text must not be written where the variable is not."""
    return any(secret in text for secret in _SECRETS)


def redact_values(text: str, values: Iterable[str], *, min_length: int = 4) -> str:
    """``text`` with every occurrence of each of ``values`` replaced by ``***``.

    For the values a requirements file's ``${VARIABLES}`` expanded to: a short token in
    ``/files/${TOKEN}/`` looks like any other word, so only knowing it hides it. Values
    shorter than ``min_length`` are left alone (they would hide ordinary text and guard
    little). Longer values are replaced first, so one that contains another goes whole.
    """
    for value in sorted({v for v in values if len(v) >= min_length}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact_line(text: str, *, limit: int = LINE_PREFIX) -> str:
    """What a message may show of a line that came through an include and did not parse.

    Only its leading word (letters, digits, ``.``, ``_``, ``-``: a project name or an
    option such as ``--index-url``), at most ``limit`` characters, then a marker with the
    count of characters not shown; nothing of the rest. A leading word that looks like a
    token is not shown either. ``-r ~/.netrc`` then shows ``machine... [27 characters not
    shown]``, never the password; ``Django>=5 ; python_version<"3"`` shows ``Django...``.
    Surrounding whitespace is dropped. Linear in ``text``; never raises.
    """
    stripped = text.strip()
    match = _LEADING_WORD_RE.match(stripped)
    word = match.group(0)[:limit] if match is not None else ""
    if _looks_random(word):
        word = ""
    hidden = len(stripped) - len(word)
    if hidden == 0:
        return word
    return f"{word}... [{hidden} characters not shown]"
