"""requirements -> pylock.toml -> requirements keeps the pins and the hash sets, for every case of
the tricky-requirements corpus (tests/golden/harden/, the hashed outputs): what pip installs from
the round-tripped file is what it installs from the original, hash for hash, and every
pylock.toml on the way validates against packaging.pylock and the PEP 751 JSON schema."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements
from typer.testing import CliRunner

from hardenreq.cli import app
from hardenreq.lockfile.pylock import validate_pylock
from tests.index import IndexServer
from tests.integration.test_golden_harden import CASES, GOLDEN, ROOT, Case

runner = CliRunner()

# The cases whose hardened output is a lock (the others are refused, their output is their input).
LOCKS = [c for c in CASES if c.values[0].exit_code == 0]


def _out_tree(case: Case, work: Path) -> None:
    if case.is_folder:
        shutil.copytree(GOLDEN / case.name / "out", work)
    else:
        work.mkdir()
        shutil.copy(GOLDEN / f"{case.name}.out.txt", work / ROOT)


Pins = dict[tuple[str, str], tuple[Version, frozenset[str]]]


def _installed(path: Path) -> Pins:
    """What pip installs from the file (not its constraints): project and marker -> version
    and the set of sha256 digests."""
    session = PipSession()
    try:
        parsed = list(parse_requirements(str(path), session=session))
    finally:
        session.close()
    pins: Pins = {}
    for entry in parsed:
        if entry.constraint:
            continue
        requirement = Requirement(entry.requirement)
        (specifier,) = requirement.specifier
        marker = str(Marker(str(requirement.marker))) if requirement.marker else ""
        hashes = frozenset((entry.options or {}).get("hashes", {}).get("sha256", []))
        key = (canonicalize_name(requirement.name), marker)
        assert key not in pins, entry.requirement
        pins[key] = (Version(specifier.version), hashes)
    return pins


def _convert(index: IndexServer, source: Path, output: Path) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["convert", "--index-url", index.simple_url, "--retries", "1", str(source), str(output)],
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", LOCKS)
def test_round_trip_keeps_pins_and_hash_sets(
    case: Case, index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    _out_tree(case, work)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.format(work=work))
    monkeypatch.chdir(work)
    original = _installed(work / ROOT)
    assert original

    code, err = _convert(index, work / ROOT, work / "pylock.toml")
    assert code == 0, err
    text = (work / "pylock.toml").read_text(encoding="utf-8")
    validate_pylock(text)
    data: dict[str, Any] = tomllib.loads(text)
    Pylock.from_dict(data)
    assert index.url.split("//", 1)[1] in text  # the files' URLs, on this index
    for entry in data["packages"]:
        for file in [*entry.get("wheels", []), entry["sdist"]]:
            assert file["size"] > 0
            assert file["upload-time"].tzinfo is not None

    code, err = _convert(index, work / "pylock.toml", work / "back.txt")
    assert code == 0, err
    assert "not in back.txt: the sizes of" in " ".join(err.split())
    assert _installed(work / "back.txt") == original

    # And once more: the second pylock.toml is the first, byte for byte.
    code, err = _convert(index, work / "back.txt", work / "pylock.again.toml")
    assert code == 0, err
    again = (work / "pylock.again.toml").read_text(encoding="utf-8")
    assert tomllib.loads(again)["packages"] == data["packages"]
