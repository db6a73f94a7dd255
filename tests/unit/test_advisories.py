"""OSV matching, alias merging and fix planning (hardenreq.advisories.match) on the real records
of tests/data/osv, checked against the test server's own matching; the offline dump reader
(hardenreq.advisories.offline) on zips and folders, hostile ones included."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.advisories import offline
from hardenreq.advisories.match import (
    OsvRecord,
    RecordInvalid,
    affects,
    decode_record,
    fix_target,
    merge,
    still_affects,
)
from hardenreq.advisories.offline import load_database
from hardenreq.errors import InputError
from hardenreq.models import AffectedVersions, Vulnerability
from tests.osv import RECORDS, load_records, matches


def record(identifier: str) -> OsvRecord:
    return decode_record((RECORDS / f"{identifier}.json").read_bytes())


def vulnerability(identifier: str, name: str) -> Vulnerability:
    return record(identifier).vulnerability(canonicalize_name(name), "osv-api")


def hit(identifier: str, name: str, version: str) -> bool:
    return affects(record(identifier).affected[canonicalize_name(name)], Version(version))


@pytest.mark.parametrize(
    ("identifier", "name", "version", "expected"),
    [
        # Two ranges in one events list (2.0.0 <= v < 2.0.7, and v < 1.26.18).
        ("PYSEC-2023-212", "urllib3", "1.26.17", True),
        ("PYSEC-2023-212", "urllib3", "1.26.18", False),
        ("PYSEC-2023-212", "urllib3", "2.0.0", True),
        ("PYSEC-2023-212", "urllib3", "2.0.6", True),
        ("PYSEC-2023-212", "urllib3", "2.0.7", False),
        ("PYSEC-2023-212", "urllib3", "2.1.0", False),
        # Events out of order: 4.2/4.2.3, 4.0/4.1.10, 3.2/3.2.20.
        ("PYSEC-2023-100", "Django", "3.1.14", False),
        ("PYSEC-2023-100", "Django", "3.2.0", True),
        ("PYSEC-2023-100", "Django", "3.2.20", False),
        ("PYSEC-2023-100", "Django", "4.1.9", True),
        ("PYSEC-2023-100", "Django", "4.2.3", False),
        # last_affected 1.11.0 is affected; after it, not.
        ("PYSEC-2022-42969", "py", "1.11.0", True),
        ("PYSEC-2022-42969", "py", "1.11.1", False),
        # The versions list spells "0.8.0-alpha2": PEP 440 reads it as 0.8.0a2.
        ("PYSEC-2022-42969", "py", "0.8.0a2", True),
        # Listed versions only (malware): those and no others.
        ("MAL-2024-11518", "aiocpa", "0.1.13", True),
        ("MAL-2024-11518", "aiocpa", "0.1.12", False),
        # Every version.
        ("MAL-2023-1578", "aiohtt", "0.0.1.dev1", True),
        ("MAL-2023-1578", "aiohtt", "99", True),
        # introduced "0", fixed: the whole past.
        ("PYSEC-2019-217", "Jinja2", "2.10", True),
        ("PYSEC-2019-217", "Jinja2", "2.10.1", False),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.2.1", False),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.3.0", True),
    ],
)
def test_affects(identifier: str, name: str, version: str, expected: bool) -> None:
    assert hit(identifier, name, version) is expected


def test_matching_agrees_with_the_test_server_on_every_record() -> None:
    versions = [
        "0", "0.1", "0.8.0a2", "1.0", "1.11.0", "1.11.1", "1.26.4", "1.26.18", "2.0", "2.0.0",
        "2.0.7", "2.3.0", "2.10", "2.10.1", "2.11.3", "2.25.0", "2.31.0", "2.32.2", "3.2",
        "3.2.4", "3.2.20", "4.1.10", "4.2.3", "5.0", "0.1.13", "0.1.14",
    ]  # fmt: skip
    compared = 0
    for raw in load_records():
        parsed = decode_record(json.dumps(raw).encode())
        for name, entries in parsed.affected.items():
            for version in versions:
                assert affects(entries, Version(version)) is matches(raw, name, version), (
                    raw["id"],
                    name,
                    version,
                )
                compared += 1
    assert compared == len(load_records()) * len(versions)


def test_decode_keeps_pypi_entries_and_refuses_what_is_not_osv() -> None:
    raw = {
        "id": "GHSA-xxxx-yyyy-zzzz",
        "aliases": ["CVE-2099-1", "not an id!"],
        "affected": [
            {"package": {"ecosystem": "npm", "name": "requests"}, "versions": ["1.0"]},
            {"package": {"ecosystem": "PyPI", "name": "Foo_Bar"}, "versions": ["1.0"]},
        ],
    }
    parsed = decode_record(json.dumps(raw).encode())
    assert set(parsed.affected) == {"foo-bar"}
    assert parsed.aliases == ("CVE-2099-1",)
    assert not parsed.withdrawn
    assert record("PYSEC-2023-73").withdrawn
    for bad in (
        b"not json",
        b"[]",
        json.dumps({"id": "../../etc/passwd"}).encode(),
        json.dumps({"id": "X-1", "schema_version": "2.0.0"}).encode(),
        json.dumps({"id": "X-1", "affected": "everything"}).encode(),
    ):
        with pytest.raises(RecordInvalid):
            decode_record(bad)


def test_aliases_merge_transitively_into_one() -> None:
    # PYSEC-2023-74 lists the GHSA and the CVE; the GHSA lists only the CVE.
    merged = merge(
        [
            vulnerability("GHSA-j8r2-6x86-q33q", "requests"),
            vulnerability("GHSA-9wx4-h78v-vm56", "requests"),
            vulnerability("PYSEC-2023-74", "requests"),
        ]
    )
    assert [v.id for v in merged] == ["GHSA-9wx4-h78v-vm56", "PYSEC-2023-74"]
    joined = merged[1]
    assert joined.aliases == ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q")
    assert joined.fixed_in == ("2.31.0",)
    assert joined.summary == "Unintended leak of Proxy-Authorization header in requests"
    assert len(joined.affected) == 2
    # A malware report stays malware when merged with another name for it.
    malware = merge(
        [vulnerability("MAL-2024-11518", "aiocpa"), Vulnerability("SNYK-PYTHON-AIOCPA-8442272")]
    )
    assert len(malware) == 1
    assert malware[0].malicious


def test_an_index_only_advisory_is_judged_by_its_fixed_versions() -> None:
    index_only = Vulnerability("PYSEC-2099-1", fixed_in=("2.0",))
    assert still_affects(index_only, Version("1.5"), Version("1.0"))
    assert not still_affects(index_only, Version("2.0"), Version("1.0"))
    # Merged with an OSV record, the ranges are not trusted alone: the fixes decide.
    merged = merge(
        [index_only, Vulnerability("PYSEC-2099-1", affected=(AffectedVersions(("1.0",)),))]
    )
    assert merged[0].affected == ()


def test_fix_target_is_the_nearest_release_that_fixes_everything() -> None:
    found = merge(
        [
            vulnerability("PYSEC-2023-74", "requests"),
            vulnerability("GHSA-j8r2-6x86-q33q", "requests"),
            vulnerability("GHSA-9wx4-h78v-vm56", "requests"),
        ]
    )
    releases = [Version(v) for v in ("2.28.0", "2.31.0", "2.32.0", "2.32.2", "2.32.3")]
    plan = fix_target(Version("2.25.0"), found, releases)
    assert (plan.target, plan.fixed, plan.unfixed) == (
        Version("2.32.2"),
        ("GHSA-9wx4-h78v-vm56", "PYSEC-2023-74"),
        (),
    )
    # Within <2.32 only one can be fixed.
    plan = fix_target(Version("2.25.0"), found, releases[:2])
    assert (plan.target, plan.fixed, plan.unfixed) == (
        Version("2.31.0"),
        ("PYSEC-2023-74",),
        ("GHSA-9wx4-h78v-vm56",),
    )
    # A release with an advisory of its own loses to a clean one a little further.
    own = {Version("2.32.2"): [Vulnerability("GHSA-new0-0000-0000")]}
    assert fix_target(Version("2.25.0"), found, releases, own).target == Version("2.32.3")
    # Nothing fixes it: no target.
    nothing = fix_target(Version("2.25.0"), found, [Version("2.26.0")])
    assert nothing.target is None
    assert nothing.unfixed == ("GHSA-9wx4-h78v-vm56", "PYSEC-2023-74")


# The offline reader ------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def real_members() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(RECORDS.glob("*.json"))}


def test_zip_keeps_only_the_records_of_the_projects_asked(tmp_path: Path) -> None:
    dump = make_zip(tmp_path / "all.zip", real_members())
    database = load_database(dump, {canonicalize_name("requests"), canonicalize_name("redis")})
    assert database.kind == "zip"
    assert database.records == len(real_members())
    assert database.sha256 == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert database.date == "2025-12-24T10:09:32Z"
    # redis's only record is withdrawn: dropped.
    assert sorted(database.by_name) == ["requests"]
    assert sorted(r.id for r in database.by_name[canonicalize_name("requests")]) == [
        "GHSA-9wx4-h78v-vm56",
        "GHSA-j8r2-6x86-q33q",
        "PYSEC-2018-28",
        "PYSEC-2023-74",
    ]


def test_folder_digest_is_of_its_listing(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    (folder / "pypi" / "requests").mkdir(parents=True)
    data = (RECORDS / "PYSEC-2023-74.json").read_bytes()
    (folder / "pypi" / "requests" / "PYSEC-2023-74.json").write_bytes(data)
    (folder / "README.md").write_text("not a record")
    database = load_database(folder, {canonicalize_name("requests")})
    listing = f"pypi/requests/PYSEC-2023-74.json\0{hashlib.sha256(data).hexdigest()}\n"
    assert database.sha256 == hashlib.sha256(listing.encode()).hexdigest()
    assert database.records == 1
    assert database.kind == "folder"


def test_bad_records_are_skipped_and_counted(tmp_path: Path) -> None:
    members = real_members()
    members["broken.json"] = b"{not json"
    members["wrong.json"] = b'{"id": "X-1", "affected": 3}'
    members["notes.txt"] = b"ignored"
    database = load_database(make_zip(tmp_path / "all.zip", members), {canonicalize_name("x")})
    assert database.skipped == 2
    assert database.records == len(members) - 1


def test_a_zip_bomb_member_is_read_in_bounded_steps(tmp_path: Path) -> None:
    # 64 MiB of zeros deflate to about 64 KB; the reader stops at MAX_RECORD_BYTES.
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("PYSEC-0000-1.json", "w", force_zip64=True) as member:
            chunk = bytes(1024 * 1024)
            for _ in range(64):
                member.write(chunk)
        archive.writestr("PYSEC-2023-74.json", (RECORDS / "PYSEC-2023-74.json").read_bytes())
    assert bomb.stat().st_size < 1024 * 1024
    tracemalloc.start()
    database = load_database(bomb, {canonicalize_name("requests")})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert database.skipped == 1
    assert [r.id for r in database.by_name[canonicalize_name("requests")]] == ["PYSEC-2023-74"]
    assert peak < 3 * offline.MAX_RECORD_BYTES


def test_a_member_whose_header_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    dump = make_zip(tmp_path / "lies.zip", {"A-1.json": b'{"id": "A-1"}' + b" " * 100_000})
    data = bytearray(dump.read_bytes())
    # Both copies of the uncompressed size (local header at 22, central directory at +24).
    struct.pack_into("<I", data, 22, 10)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    dump.write_bytes(bytes(data))
    with pytest.raises(InputError, match="not a valid zip"):
        load_database(dump, {canonicalize_name("a")})


def test_a_forged_entry_count_is_refused_before_the_directory_is_read(tmp_path: Path) -> None:
    dump = make_zip(tmp_path / "many.zip", {"A-1.json": b'{"id": "A-1"}'})
    data = bytearray(dump.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFF, 0xFFFF)
    # A zip64 end record claiming ten million entries, and its locator.
    zip64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**7, 10**7, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, end, 1)
    dump.write_bytes(bytes(data[:end]) + zip64 + locator + bytes(data[end:]))
    with pytest.raises(InputError, match="10000000 entries"):
        load_database(dump, {canonicalize_name("a")})


def test_a_dump_over_the_total_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(offline, "MAX_DUMP_BYTES", 20_000)
    dump = make_zip(tmp_path / "all.zip", real_members())
    with pytest.raises(InputError, match="hold more than 20000 bytes"):
        load_database(dump, {canonicalize_name("requests")})


@pytest.mark.parametrize("content", [b"", b"plain text", b"PK\x05\x06"])
def test_not_a_zip_is_bad_input_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "osv.zip"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"osv\.zip: cannot read the advisory database"):
        load_database(path, set())


def test_the_advisory_modules_load_no_http_code() -> None:
    # verify and core import them on every run; httpx loads only when the API is asked.
    # (hardenreq.index puts a placeholder for httpx's command line in sys.modules.)
    code = (
        "import sys, hardenreq.advisories.check, hardenreq.advisories.fix, "
        "hardenreq.advisories.match, hardenreq.advisories.offline, hardenreq.verify; "
        "loaded = {m.split('.')[0] for m in sys.modules if m != 'httpx._main'}; "
        "print(sorted({'httpx', 'typer', 'rich'} & loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
