"""The Lock model's two formats, without an index: pylock.toml written and read back, its
validation (packaging.pylock and the PEP 751 JSON schema), messages with the TOML line, and
the requirements view and rendering."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.errors import HardenreqError, InputErrors, LocatedError
from hardenreq.lockfile.flows import read_view
from hardenreq.lockfile.model import Lock, LockedFile, LockedPackage, LockOrigin
from hardenreq.lockfile.pylock import (
    _json_ready,
    _schema,
    is_pylock_path,
    parse_pylock,
    render_pylock,
    validate_pylock,
)
from hardenreq.lockfile.requirements import (
    _lowest_python,
    _unlockable,
    lost_in_requirements,
    origin_of,
    render_requirements,
    requirements_view,
)
from hardenreq.models import PublisherIdentity
from hardenreq.publishers import read_identities
from hardenreq.redact import forget_secrets, register_secret
from hardenreq.reqfile.parse import parse_text

DATA = Path(__file__).parent.parent / "data"
LOCK_PATH = Path("pylock.toml")
A, B, C = "a" * 64, "b" * 64, "c" * 64


def _file(name: str, digest: str, *, size: int = 10, minute: int = 1) -> LockedFile:
    return LockedFile(
        filename=name,
        hashes=(("sha256", digest),),
        url=f"https://files.example.com/packages/{name}",
        size=size,
        upload_time=datetime(2025, 1, 2, 3, minute, 5, 123456, tzinfo=UTC),
    )


def _lock(**origin: Any) -> Lock:
    return Lock(
        packages=(
            LockedPackage(
                name=canonicalize_name("tinyutil"),
                version=Version("1.2"),
                requires_python=SpecifierSet(">=3.8"),
                index="https://index.example.com/simple",
                sdist=_file("tinyutil-1.2.tar.gz", A),
                # Out of order on purpose: the writer sorts wheels by name.
                wheels=(
                    _file("tinyutil-1.2-py3-none-any.whl", B),
                    _file("tinyutil-1.2-cp311-cp311-manylinux_2_17_x86_64.whl", C, minute=2),
                ),
                via=("tinyweb",),
            ),
            LockedPackage(
                name=canonicalize_name("tinyweb"),
                version=Version("2.0"),
                marker=Marker('python_version >= "3.8"'),
                index="https://index.example.com/simple",
                wheels=(_file("tinyweb-2.0-py3-none-any.whl", "d" * 64),),
                dependencies=(canonicalize_name("tinyutil"),),
            ),
        ),
        origin=LockOrigin(**origin),
        requires_python=SpecifierSet(">=3.8"),
    )


def test_write_then_read_gives_the_same_lock() -> None:
    lock = _lock(source="requirements.in", command="hardenreq harden requirements.in -o x",
                 options=("--index-url https://index.example.com/simple",))  # fmt: skip
    text = render_pylock(lock)
    document = parse_pylock(LOCK_PATH, text.encode())
    read = document.lock
    assert read.origin == lock.origin
    assert read.requires_python == lock.requires_python
    for written, back in zip(lock.packages, read.packages, strict=True):
        assert back.name == written.name
        assert back.version == written.version
        assert back.marker == written.marker
        assert back.requires_python == written.requires_python
        assert back.index == written.index
        assert back.sdist == written.sdist
        assert back.wheels == tuple(sorted(written.wheels, key=lambda w: w.filename))
        assert back.dependencies == written.dependencies
        assert back.via == written.via
    # Lines: each package's [[packages]] header, each file's hash line, each option.
    lines = text.splitlines()
    assert [lines[p.line - 1] for p in read.packages if p.line] == ["[[packages]]"] * 2
    assert C in lines[(document.file_line(0, C) or 0) - 1]
    assert '"--index-url' in lines[(document.option_lines[0] or 0) - 1]
    # Written twice, byte for byte the same.
    assert render_pylock(read) == text


def test_the_written_layout() -> None:
    text = render_pylock(_lock(source="requirements.in"))
    assert text.startswith(
        'lock-version = "1.0"\nrequires-python = ">=3.8"\ncreated-by = "hardenreq"\n\n'
        '[[packages]]\nname = "tinyutil"\nversion = "1.2"\nrequires-python = ">=3.8"\n'
        'index = "https://index.example.com/simple"\n\n[packages.sdist]\n'
        'name = "tinyutil-1.2.tar.gz"\nupload-time = 2025-01-02T03:01:05.123456Z\n'
    )
    assert text.index("cp311") < text.index("py3-none-any.whl")
    assert '[[packages]]\nname = "tinyweb"\nversion = "2.0"\n' in text
    assert 'marker = "python_version >= \\"3.8\\""\n' in text
    assert 'dependencies = [{name = "tinyutil"}]\n' in text
    assert '[packages.tool.hardenreq]\nvia = ["tinyweb"]\n' in text
    assert text.endswith('[tool.hardenreq]\nsource = "requirements.in"\noptions = []\n')


def test_what_is_written_validates_against_both_validators() -> None:
    text = render_pylock(_lock(source="requirements.in", extras=("dev",)))
    data = tomllib.loads(text)
    Pylock.from_dict(data)
    jsonschema.Draft7Validator(_schema()).validate(_json_ready(data))


def test_a_schema_violation_stops_the_write() -> None:
    # packaging ignores a key it does not know; the schema does not.
    text = render_pylock(_lock()).replace("size = 10\n", "size = 10\nmirror = true\n", 1)
    with pytest.raises(HardenreqError, match="does not match the PEP 751 JSON schema") as caught:
        validate_pylock(text)
    assert caught.value.exit_code == 4
    with pytest.raises(HardenreqError, match="is not valid"):
        validate_pylock(text.replace('created-by = "hardenreq"\n', ""))


def test_the_schema_is_the_published_one_with_two_documented_corrections() -> None:
    raw = resources.files("hardenreq.lockfile").joinpath("pylock.schema.json").read_bytes()
    # tests/data/README.md records where this copy comes from.
    assert hashlib.sha256(raw).hexdigest() == (
        "204ebd25076d77a5aee6d4ffa0e03cda094d525d6bc6bbcc355eca101e28471f"
    )
    published = json.loads(raw)
    example = _json_ready(tomllib.loads((DATA / "pylock.example.toml").read_text()))
    assert isinstance(example, dict)
    # As published, it rejects even the specification's own example...
    assert list(jsonschema.Draft7Validator(published).iter_errors(example))
    # ...and corrected, it accepts it; the corrections are exactly these two.
    jsonschema.Draft7Validator(_schema()).validate(example)
    expected = copy.deepcopy(published)
    del expected["additionalProperties"]
    expected["definitions"]["1.0"]["additionalProperties"] = False
    items = expected["definitions"]["1.0"]["properties"]["packages"]["items"]
    items["properties"]["attestation-identities"]["items"]["additionalProperties"] = True
    assert _schema() == expected
    # Still strict where it means to be: an unknown top-level key is refused.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_schema()).validate({**example, "surprise": 1})


def test_reads_the_specification_example() -> None:
    document = parse_pylock(LOCK_PATH, (DATA / "pylock.example.toml").read_bytes())
    lock = document.lock
    assert lock.created_by == "mousebender"
    assert [str(m) for m in lock.environments] == [
        'sys_platform == "win32"',
        'sys_platform == "linux"',
    ]
    attrs = lock.packages[0]
    assert attrs.name == "attrs"
    assert dict(attrs.attestation_identities[0])["repository"] == "python-attrs/attrs"
    assert attrs.wheels[0].upload_time == datetime(2025, 1, 25, 11, 30, 10, 164985, tzinfo=UTC)
    lost = " ".join(lost_in_requirements(lock))
    assert "the environments the lock is for" in lost
    # Attestation identities are kept, as the publisher notes requirements locks record.
    assert "attestation" not in lost
    note = "    # publisher: github python-attrs/attrs pypi-package.yml environment=release-pypi\n"
    assert note in render_requirements(lock, source=None, command=None)
    view = read_view(LOCK_PATH, (DATA / "pylock.example.toml").read_bytes(), {})
    assert read_identities(view.file)[canonicalize_name("attrs")] == (
        PublisherIdentity(
            "GitHub",
            (
                ("environment", "release-pypi"),
                ("repository", "python-attrs/attrs"),
                ("workflow", "pypi-package.yml"),
            ),
        ),
    )
    # Its tool table is another tool's: nothing of hardenreq's.
    assert lock.origin == LockOrigin()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('lock-version = "1.0"\ncreated-by = "x"\npackages = [\n', 3, "not valid TOML"),
        ('lock-version = "1.0"\n\npackages = []\n', None, "Missing required value"),
        # A hostile file (from a pull request): nesting tomli refuses with a RecursionError.
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", None, "not valid TOML: TOML inline arrays"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n\n[[packages]]\nname = "a"\n'
            '[packages.archive]\npath = "a.whl"\nhashes = {sha256 = "ab"}\n\n'
            '[[packages]]\nname = "Not_Normal"\n',
            10,
            "is not normalized",
        ),
        ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', None, "not supported"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\ndependency-groups = ["dev"]\npackages = []\n',
            None,
            "multi-use lock (dependency-groups",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n\n[[packages]]\nname = "a"\n'
            'marker = "extra == \'x\'"\n[packages.archive]\npath = "a.whl"\nhashes = {md5 = "0"}\n',
            4,
            "its marker uses 'extra'",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\npackages = []\n[tool.hardenreq]\nsource = 3\n',
            None,
            "[tool.hardenreq] source must be a string",
        ),
    ],
)
def test_bad_pylocks_are_errors_naming_the_line(text: str, line: int | None, message: str) -> None:
    with pytest.raises(LocatedError) as caught:
        parse_pylock(LOCK_PATH, text.encode())
    assert caught.value.line == line
    assert message in caught.value.message
    assert caught.value.message.startswith("pylock.toml")


def test_not_utf8_names_the_line() -> None:
    with pytest.raises(LocatedError, match="not valid UTF-8") as caught:
        parse_pylock(LOCK_PATH, b'lock-version = "1.0"\ncreated-by = "\xff"\n')
    assert caught.value.line == 2


def test_vcs_and_directory_entries_are_kept_with_a_reason() -> None:
    text = (
        'lock-version = "1.0"\ncreated-by = "x"\n\n[[packages]]\nname = "thing"\n'
        '[packages.vcs]\ntype = "git"\nurl = "https://git.example.com/t.git"\ncommit-id = "ab"\n\n'
        '[[packages]]\nname = "local"\n[packages.directory]\npath = "./local"\n'
    )
    lock = parse_pylock(LOCK_PATH, text.encode()).lock
    assert [(p.name, p.unsupported, p.line) for p in lock.packages] == [
        ("thing", "a git checkout (VCS entry)", 4),
        ("local", "a local directory", 11),
    ]
    view, lines = requirements_view(parse_pylock(LOCK_PATH, text.encode()))
    assert (view, lines) == ("", ())  # nothing a requirements file can say about them
    with pytest.raises(ValueError, match="thing: a git checkout"):
        render_requirements(lock, source=None, command=None)


def test_the_view_puts_every_pin_on_its_toml_line() -> None:
    origin = LockOrigin(
        source="requirements.in",
        command="hardenreq harden requirements.in -o pylock.toml",
        options=("--index-url https://index.example.com/simple", "-c base.txt", "--pre"),
    )
    text = render_pylock(
        Lock(packages=_lock().packages, origin=origin, requires_python=SpecifierSet(">=3.8"))
    )
    view = read_view(LOCK_PATH, text.encode(), {})
    document, parsed = view.document, view.file
    toml_lines = text.splitlines()
    assert [e.lineno for e in parsed.requirements] == [p.line for p in document.lock.packages]
    assert all(toml_lines[e.lineno - 1] == "[[packages]]" for e in parsed.requirements)
    tinyutil, tinyweb = parsed.requirements
    assert tinyutil.spec == "tinyutil==1.2"
    assert sorted(h.digest for h in tinyutil.hashes) == [A, B, C]
    assert tinyweb.marker == Marker('python_version >= "3.8"')
    # Only the index options: they decide which index checks the lock.
    (option,) = [e for e in parsed.entries if e not in parsed.requirements]
    assert (
        toml_lines[option.lineno - 1].strip() == '"--index-url https://index.example.com/simple",'
    )
    # The header names the source, as a requirements lock's does.
    assert origin_of(parsed).source == "requirements.in"
    # Why each package is there comes from the lock (a view has no # via notes).
    assert view.via == {"tinyutil": ("tinyweb",), "tinyweb": ("",)[:0]}


def test_render_requirements() -> None:
    lock = _lock(source="requirements.in", options=("-c base.txt",))
    text = render_requirements(
        lock, source="requirements.in", command="hardenreq harden requirements.in -o r.txt"
    )
    assert text == (
        "# This file is generated by hardenreq from requirements.in; edit that file, not this "
        "one.\n# To update it: hardenreq harden requirements.in -o r.txt\n#\n-c base.txt\n\n"
        f"tinyutil==1.2 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B} \\\n"
        f"    --hash=sha256:{C}\n    # via tinyweb\n"
        f'tinyweb==2.0 ; python_version >= "3.8" \\\n    --hash=sha256:{"d" * 64}\n'
    )


def test_lowest_python_is_the_oldest_every_package_allows() -> None:
    def package(spec: str | None) -> LockedPackage:
        return LockedPackage(
            canonicalize_name("x"),
            Version("1"),
            requires_python=SpecifierSet(spec) if spec else None,
        )

    assert _lowest_python([package(">=3.8"), package(">=3.10,<4"), package(None)]) == SpecifierSet(
        ">=3.10"
    )
    assert _lowest_python([package("~=3.9"), package("!=3.9.*")]) == SpecifierSet(">=3.10")
    assert _lowest_python([package(None)]) is None
    under_a_marker = LockedPackage(
        canonicalize_name("y"),
        Version("2"),
        marker=Marker('python_version >= "3.12"'),
        requires_python=SpecifierSet(">=3.12"),
    )
    assert _lowest_python([package(">=3.8"), under_a_marker]) == SpecifierSet(">=3.8")
    assert _lowest_python([package("<3"), package(">=3.8")]) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://files.example.com/packages/ab/x-1.0.whl", None),
        ("https://user:pw@files.example.com/x-1.0.whl", None),  # userinfo is dropped
        ("https://files.example.com/x-1.0.whl?X-Amz-Signature=abc", "query string"),
        ("https://files.example.com/s3cr3t-t0ken-v4lue/x-1.0.whl", "${VARIABLE}"),
        ("file:///etc/x-1.0.whl", "not an http(s) URL"),
    ],
)
def test_what_a_lock_may_record(url: str, problem: str | None) -> None:
    register_secret("s3cr3t-t0ken-v4lue")
    try:
        found = _unlockable(url)
    finally:
        forget_secrets()
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("pylock.toml", True), ("pylock.dev.toml", True), ("pylock.a.b.toml", False),
     ("Pylock.toml", False), ("requirements.txt", False), ("pylock.toml.txt", False)],
)  # fmt: skip
def test_the_name_decides_the_format(name: str, expected: bool) -> None:
    assert is_pylock_path(Path("some/folder") / name) is expected


def test_inline_packages_get_lines_from_their_names() -> None:
    text = (
        'lock-version = "1.0"\ncreated-by = "uv"\npackages = [\n'
        '  { name = "a", version = "1", sdist = { url = "https://x.example.com/a-1.tar.gz", '
        'hashes = { sha256 = "' + A + '" } } },\n'
        '  { name = "b", version = "1", sdist = { url = "https://x.example.com/b-1.tar.gz", '
        'hashes = { sha256 = "' + B + '" } } },\n]\n'
    )
    document = parse_pylock(LOCK_PATH, text.encode())
    assert [p.line for p in document.lock.packages] == [4, 5]
    assert document.lock.packages[0].sdist is not None
    assert document.lock.packages[0].sdist.filename == "a-1.tar.gz"


def test_duplicate_packages_with_other_versions_are_refused() -> None:
    from hardenreq.lockfile.requirements import lock_from_requirements
    from hardenreq.models import DistributionFile, FileKind, Pin, Release

    def release(version: str, digest: str) -> Release:
        name = f"a-{version}-py3-none-any.whl"
        file = DistributionFile(name, f"https://x.example.com/{name}", digest, FileKind.WHEEL)
        pin = Pin(canonicalize_name("a"), Version(version))
        return Release(pin, (file,), "https://index.example.com/simple", "simple-json")

    releases = {r.pin: r for r in (release("1", A), release("2", B))}
    parsed = parse_text(
        Path("requirements.txt"), f"a==1 --hash=sha256:{A}\na==2 --hash=sha256:{B}\n"
    )
    with pytest.raises(InputErrors, match=r"requirements.txt:2: a is pinned twice"):
        lock_from_requirements(parsed.requirements, releases, origin=LockOrigin())
    # Under different markers, both stay (a marker split).
    parsed = parse_text(
        Path("requirements.txt"),
        f'a==1 ; python_version < "3.10" --hash=sha256:{A}\n'
        f'a==2 ; python_version >= "3.10" --hash=sha256:{B}\n',
    )
    lock, _ = lock_from_requirements(parsed.requirements, releases, origin=LockOrigin())
    assert [str(p.version) for p in lock.packages] == ["1", "2"]
    text = render_pylock(lock)
    assert text.count("[[packages]]") == 2
