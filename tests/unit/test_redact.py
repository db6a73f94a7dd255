"""Redaction: secrets in every part of a URL (userinfo with unencoded delimiters, path tokens,
query values), free text, unparsable included lines and expanded variables; ordinary URLs
keep their shape; and every function stays linear on 1 MB of hostile input."""

from __future__ import annotations

import time

import pytest

from hardenreq.redact import (
    LINE_PREFIX,
    MASK,
    has_credentials,
    redact_line,
    redact_text,
    redact_url,
    redact_values,
)

HOST = "https://index.example.com"

# (id, url, what redact_url shows). Every secret in these is spelled S3CRET or holds "tok".
URLS = [
    ("plain", f"{HOST}/simple", f"{HOST}/simple"),
    (
        "user-password",
        "https://alice:S3CRET@index.example.com/simple",
        "https://***@index.example.com/simple",
    ),
    (
        "token-only",
        "https://S3CRETtok@index.example.com/simple",
        "https://***@index.example.com/simple",
    ),
    ("slash-in-password", "http://alice:S3CRET/PW@host/simple", "http://***@host/simple"),
    ("hash-in-password", "http://alice:S3CRET#PW@host/simple", "http://***@host/simple"),
    ("question-in-password", "http://alice:S3CRET?PW@host/simple", "http://***@host/simple"),
    ("at-in-password", "http://alice:S3CRET@PW@host/simple", "http://***@host/simple"),
    ("at-and-slash-in-password", "http://alice:S3CRET@R/PW@host/simple", "http://***@host/simple"),
    ("port-kept", "http://alice:S3CRET@127.0.0.1:8080/simple", "http://***@127.0.0.1:8080/simple"),
    ("ipv6", "https://alice:S3CRET@[::1]:8443/simple", "https://***@[::1]:8443/simple"),
    ("query-value", f"{HOST}/simple?token=S3CRET&x", f"{HOST}/simple?token=***&x"),
    ("query-several", f"{HOST}/simple?a=1&b=S3CRET", f"{HOST}/simple?a=***&b=***"),
    ("path-token", f"{HOST}/8f3kq9x2LmT7wPz4/simple", f"{HOST}/***/simple"),
    (
        "path-token-prefixed",
        f"{HOST}/files/ghp_8f3kq9x2LmT7wPz4aB3d/x.tar.gz",
        f"{HOST}/files/***/x.tar.gz",
    ),
    ("path-uuid", f"{HOST}/123e4567-e89b-12d3-a456-426614174000/simple", f"{HOST}/***/simple"),
    (
        "blake2-path",
        f"{HOST}/packages/3b/00/2344469e2084fb287c2e0b57b72910309874c3245463acd6cf5e3db69324/"
        "pkg-1.0-py3-none-any.whl#sha256=ab12",
        f"{HOST}/packages/3b/00/***/pkg-1.0-py3-none-any.whl#sha256=ab12",
    ),
    ("fragment-value", f"{HOST}/x.tar.gz#secret=S3CRET", f"{HOST}/x.tar.gz#secret=***"),
    (
        "egg-kept",
        "git+https://host.example/org/repo.git@v1.0#egg=tiny",
        "git+https://host.example/org/repo.git@v1.0#egg=tiny",
    ),
    (
        "vcs-with-user",
        "git+https://alice:S3CRET@host.example/org/repo.git@v1.0",
        "git+https://***@host.example/org/repo.git@v1.0",
    ),
    ("variable-kept", f"{HOST}/files/${{TOKEN}}/x.tar.gz", f"{HOST}/files/${{TOKEN}}/x.tar.gz"),
    (
        "project-name-kept",
        f"{HOST}/simple/mypy-boto3-cloudformation/",
        f"{HOST}/simple/mypy-boto3-cloudformation/",
    ),
    (
        "wheel-name-kept",
        f"{HOST}/f/numpy-2.2.6-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        f"{HOST}/f/numpy-2.2.6-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    ("no-scheme", "alice:S3CRET@host/simple", "***@host/simple"),
    ("no-scheme-no-secret", "index.example.com/simple", "index.example.com/simple"),
    ("already-redacted", "https://***@host/simple?token=***", "https://***@host/simple?token=***"),
    ("unicode-path", f"{HOST}/simple/zürich/", f"{HOST}/simple/zürich/"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("url", "shown"), [u[1:] for u in URLS], ids=[u[0] for u in URLS])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "S3CRET" not in shown
    assert redact_url(shown) == shown  # idempotent


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "index URL http://alice:S3CRET/PW@host/simple is not valid",
            "index URL http://***@host/simple is not valid",
        ),
        ('not "https://user:S3CRET@host/simple"', 'not "https://***@host/simple"'),
        ("('https://host.example/s?token=S3CRET').", "('https://host.example/s?token=***')."),
        (
            "two: http://a:S3CRET@h.example/x\nhttps://b:S3CRET@h.example/y",
            "two: http://***@h.example/x\nhttps://***@h.example/y",
        ),
        ("no url at all: a:b@c", "no url at all: a:b@c"),
        ("x=://y and ://z", "x=://y and ://z"),
        ("url=git+https://u:S3CRET@h.example/r", "url=git+https://***@h.example/r"),
    ],
)
def test_redact_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pkg @ https://u:S3CRET@h.example/x.whl", True),
        ("pkg @ https://tok@h.example/x.whl", True),
        ("pkg @ http://alice:S3CRET/PW@host/x.whl", True),
        (
            "pkg @ https://h.example/packages/2344469e2084fb287c2e0b57b72910309874c3245463acd6cf5e3db69324/x.whl",
            False,
        ),
        ("pkg @ https://h.example/x.whl?token=abc", False),
        ("git+https://h.example/org/repo.git@v1", False),
        ("pkg==1.0", False),
    ],
)
def test_has_credentials_is_about_userinfo_only(text: str, expected: bool) -> None:
    assert has_credentials(text) is expected


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "machine host.example login alice password S3CRET",
            "machine... [41 characters not shown]",
        ),
        ("  password S3CRET  ", "password... [7 characters not shown]"),
        ("root:x:0:0:root:/root:/bin/bash", "root... [27 characters not shown]"),
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "... [32 characters not shown]"),
        ("ghp_8f3kq9x2LmT7wPz4aB3d", "... [24 characters not shown]"),
        ("AWS_SECRET_ACCESS_KEY=S3CRET", "AWS_SECRET_ACCESS_KE... [8 characters not shown]"),
        ('Django>=5 ; python_version<"3"', "Django... [24 characters not shown]"),
        ("--index-url https://a:S3CRET@h/", "--index-url... [20 characters not shown]"),
        ("djangorestframework @ S3CRET", "djangorestframework... [9 characters not shown]"),
        ("{S3CRET}", "... [8 characters not shown]"),
        ("tiny", "tiny"),
        ("", ""),
    ],
)
def test_redact_line_shows_the_leading_word_at_most(line: str, shown: str) -> None:
    assert redact_line(line) == shown
    assert "S3CRET" not in shown
    assert len(shown.partition("...")[0]) <= LINE_PREFIX


def test_redact_line_limit() -> None:
    assert redact_line("abcdefghij-rest", limit=4) == "abcd... [11 characters not shown]"


def test_redact_values_masks_expanded_variables() -> None:
    text = "GET https://h.example/files/sh0rt/x.tar.gz: 404 (sh0rt-and-more)"

    assert redact_values(text, ["sh0rt", "1", ""]) == (
        f"GET https://h.example/files/{MASK}/x.tar.gz: 404 ({MASK}-and-more)"
    )
    assert redact_values("abcdef", ["abc", "abcdef"]) == MASK  # the longer one goes whole


MEGABYTE = 1_000_000
HOSTILE = {
    "letters": "a" * MEGABYTE,
    "schemes": "a://" * (MEGABYTE // 4),
    "bad-schemes": "=://" * (MEGABYTE // 4),
    "ats": "http://" + "@" * MEGABYTE,
    "colons": "http://" + "a:" * (MEGABYTE // 2),
    "token-path": "http://h.example/" + "a1" * (MEGABYTE // 2),
    "slashes": "https://" + "a/" * (MEGABYTE // 2),
    "userinfos": "http://a@" * (MEGABYTE // 9),
    "query": "https://h.example/?" + "a=b&" * (MEGABYTE // 4),
    "near-tokens": ("x" * 15 + "1-") * (MEGABYTE // 17),
    "words": "word http://h " * (MEGABYTE // 14),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_one_megabyte_of_hostile_input_redacts_in_well_under_a_second(text: str) -> None:
    # The old pattern backtracked: 100k characters took 17 s. The bound is generous (the
    # machine is shared); a linear scan takes a fraction of it.
    start = time.perf_counter()
    redact_text(text)
    redact_url(text)
    has_credentials(text)
    redact_line(text)
    assert time.perf_counter() - start < 2.0
