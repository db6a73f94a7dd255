"""Publisher notes in requirements locks: the form, reading them back, rewriting only them,
and pip's reading of the file staying the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from hardenreq.errors import RequirementsSyntaxError
from hardenreq.models import PublisherIdentity
from hardenreq.publishers import (
    parse_identity,
    read_identities,
    render_identity,
    write_identities,
)
from hardenreq.reqfile.parse import parse_text

GITHUB = PublisherIdentity(
    "GitHub", (("repository", "trailofbits/pypi-attestations"), ("workflow", "release.yml"))
)
GITLAB = PublisherIdentity(
    "GitLab",
    (("repository", "facutuesca/gitlab-oidc-project"), ("workflow_filepath", ".gitlab-ci.yml")),
)
GOOGLE = PublisherIdentity("Google", (("email", "ci@project.iam.gserviceaccount.com"),))
CIRCLE = PublisherIdentity(
    "CircleCI",
    (
        ("pipeline_definition_id", "p-1"),
        ("project_id", "c-2"),
        ("vcs_origin", "github.com/org/repo"),
    ),
)
ODD = PublisherIdentity("GitHub", (("repository", "a/b"), ("workflow", "my release=1.yml")))
FUTURE = PublisherIdentity("ActiveState", (("organization", "acme"), ("project", "p")))


@pytest.mark.parametrize(
    ("identity", "note"),
    [
        (GITHUB, "# publisher: github trailofbits/pypi-attestations release.yml"),
        (GITLAB, "# publisher: gitlab facutuesca/gitlab-oidc-project .gitlab-ci.yml"),
        (GOOGLE, "# publisher: google ci@project.iam.gserviceaccount.com"),
        (CIRCLE, "# publisher: circleci c-2 p-1 vcs_origin=github.com/org/repo"),
        (ODD, "# publisher: github a/b my%20release%3D1.yml"),
        (FUTURE, "# publisher: activestate organization=acme project=p"),
    ],
)
def test_render_and_parse_round_trip(identity: PublisherIdentity, note: str) -> None:
    assert render_identity(identity) == note
    parsed = parse_identity(note.removeprefix("# publisher:"))
    assert parsed.claims == identity.claims
    assert parsed.kind.lower() == identity.kind.lower()


def test_pep_751_table_round_trip() -> None:
    table = GITHUB.as_table()
    assert table == {
        "kind": "GitHub",
        "repository": "trailofbits/pypi-attestations",
        "workflow": "release.yml",
    }
    assert next(iter(table)) == "kind"
    assert PublisherIdentity.from_table(dict(table)) == GITHUB
    with pytest.raises(ValueError, match="kind"):
        PublisherIdentity.from_table({"repository": "x"})


@pytest.mark.parametrize(
    "body",
    ["", "github only/the-repo", "github a b c", "gitlab repo=x", "github a b a=1 a=2", "x k"],
)
def test_unreadable_notes_are_refused(body: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each says its own reason
        parse_identity(body)


LOCK = """\
# header
pypi-attestations==0.0.19 \\
    --hash=sha256:9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3
    # via -r requirements.in
tinyweb==1.0 \\
    --hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    # via
    #   -r requirements.in
    #   other
gitlab-oidc-project==0.0.3  # a comment
# a comment of the user's, kept
"""


def test_notes_go_after_the_via_notes_and_are_read_back(tmp_path: Path) -> None:
    parsed = parse_text(tmp_path / "requirements.txt", LOCK)
    identities = {
        canonicalize_name("pypi-attestations"): (GITHUB,),
        canonicalize_name("gitlab-oidc-project"): (GITLAB,),
    }
    text = write_identities(parsed, identities)
    assert text == LOCK.replace(
        "    # via -r requirements.in\n",
        "    # via -r requirements.in\n"
        "    # publisher: github trailofbits/pypi-attestations release.yml\n",
    ).replace(
        "gitlab-oidc-project==0.0.3  # a comment\n",
        "gitlab-oidc-project==0.0.3  # a comment\n"
        "    # publisher: gitlab facutuesca/gitlab-oidc-project .gitlab-ci.yml\n",
    )
    reparsed = parse_text(tmp_path / "requirements.txt", text)
    assert read_identities(reparsed) == identities
    # The requirements pip reads are the same, hashes included.
    assert [(e.spec, e.hashes) for e in reparsed.requirements] == [
        (e.spec, e.hashes) for e in parsed.requirements
    ]
    # Rewriting with the same identities changes nothing; with none, the notes go.
    assert write_identities(reparsed, identities) == text
    assert write_identities(reparsed, {}) == LOCK


def test_a_changed_identity_replaces_the_old_note(tmp_path: Path) -> None:
    parsed = parse_text(tmp_path / "r.txt", "a==1\n    # publisher: github x/y r.yml\nb==2\n")
    text = write_identities(parsed, {canonicalize_name("a"): (GITHUB, ODD)})
    assert text == (
        "a==1\n"
        "    # publisher: github a/b my%20release%3D1.yml\n"
        "    # publisher: github trailofbits/pypi-attestations release.yml\n"
        "b==2\n"
    )


def test_a_file_without_a_final_newline(tmp_path: Path) -> None:
    parsed = parse_text(tmp_path / "r.txt", "a==1")
    assert write_identities(parsed, {canonicalize_name("a"): (GITHUB,)}) == (
        "a==1\n    # publisher: github trailofbits/pypi-attestations release.yml\n"
    )


def test_crlf_files_keep_their_line_ending(tmp_path: Path) -> None:
    parsed = parse_text(tmp_path / "r.txt", "a==1\r\n    # via x\r\nb==2\r\n")
    text = write_identities(parsed, {canonicalize_name("a"): (GOOGLE,)})
    assert text == (
        "a==1\r\n    # via x\r\n    # publisher: google ci@project.iam.gserviceaccount.com\r\n"
        "b==2\r\n"
    )


def test_a_garbled_note_is_an_error_naming_the_line(tmp_path: Path) -> None:
    parsed = parse_text(tmp_path / "r.txt", "a==1\n    # via x\n    # publisher: github x\n")
    with pytest.raises(RequirementsSyntaxError) as info:
        read_identities(parsed)
    assert info.value.line == 3
    assert "cannot read this publisher note" in info.value.message


def test_pip_reads_the_noted_file_as_before(tmp_path: Path) -> None:
    """pip's own parser (the oracle): the notes change nothing it reads."""
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    plain = tmp_path / "plain.txt"
    noted = tmp_path / "noted.txt"
    plain.write_text(LOCK)
    text = write_identities(
        parse_text(plain, LOCK),
        {canonicalize_name("pypi-attestations"): (GITHUB,), canonicalize_name("tinyweb"): (ODD,)},
    )
    noted.write_text(text)
    session = PipSession()

    def read(path: Path) -> list[tuple[str, object]]:
        return [(r.requirement, r.options) for r in parse_requirements(str(path), session=session)]

    assert "# publisher:" in text
    assert read(noted) == read(plain)
