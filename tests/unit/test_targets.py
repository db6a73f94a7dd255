"""Targets: the marker of a set of environments is true on exactly those environments."""

from __future__ import annotations

import pytest
from packaging.markers import Marker
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from hardenreq.equivalence import resolves_the_same
from hardenreq.errors import InputError
from hardenreq.index.sources import ListedFile
from hardenreq.models import FileKind
from hardenreq.resolve import Resolution, ResolvedPin, ResolverRecord
from hardenreq.targets import (
    PLATFORMS,
    Target,
    Targets,
    make_targets,
    marker_for,
    parse_python_versions,
)


def test_markers_are_true_on_exactly_their_environments() -> None:
    targets = Targets((10, 11, 12, 13), ("linux", "macos", "windows", "linux-aarch64"))
    everything = targets.all
    # Every set of one platform's versions, every set of versions on all platforms, and
    # a sample of mixed sets: the marker holds on exactly the chosen targets.
    samples: list[set[Target]] = [
        {t for t in everything if t.platform == platform and mask >> (t.minor - 10) & 1}
        for platform in targets.platforms
        for mask in range(1, 16)
    ]
    samples += [{t for t in everything if mask >> (t.minor - 10) & 1} for mask in range(1, 16)]
    samples += [
        {t for i, t in enumerate(everything) if (seed * 2654435761 >> i) & 1} for seed in range(200)
    ]
    for chosen in filter(None, samples):
        marker = marker_for(chosen, targets)
        for target in everything:
            expected = target in chosen
            got = True if marker is None else Marker(marker).evaluate(target.environment())
            assert got == expected, (marker, target, sorted(chosen))
    assert set(PLATFORMS) >= set(targets.platforms)


@pytest.mark.parametrize(
    ("given", "minors"),
    [(["3.10-3.13"], (10, 11, 12, 13)), (["3.11", "3.12"], (11, 12)), (["3.9,3.12"], (9, 12))],
)
def test_python_versions(given: list[str], minors: tuple[int, ...]) -> None:
    assert parse_python_versions(given) == minors


@pytest.mark.parametrize("bad", ["3", "2.7", "3.13-3.10", "python3.11", "3.99"])
def test_bad_python_versions_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError):
        parse_python_versions([bad])


def test_no_targets_is_this_machine() -> None:
    assert make_targets((), ()) is None
    with pytest.raises(InputError, match="not one of"):
        make_targets((), ("beos",))


def _listed(version: str, filename: str, requires_python: str | None = None) -> ListedFile:
    kind = FileKind.WHEEL if filename.endswith(".whl") else FileKind.SDIST
    return ListedFile(Version(version), filename, kind, requires_python, False)


def _resolved(*pins: tuple[str, str], markers: tuple[str, ...] = ()) -> Resolution:
    return Resolution(
        {
            canonicalize_name(n): ResolvedPin(canonicalize_name(n), Version(v), f"{n}=={v}", ())
            for n, v in pins
        },
        ResolverRecord(
            tuple((m, None) for m in markers), tuple(canonicalize_name(n) for n, _ in pins)
        ),
    )


def test_a_target_resolves_the_same_only_when_nothing_it_is_asked_differs() -> None:
    linux310, linux313, win313 = Target(10, "linux"), Target(13, "linux"), Target(13, "windows")
    pages: dict[NormalizedName, tuple[ListedFile, ...]] = {
        canonicalize_name("tool"): (
            _listed("1.0", "tool-1.0.tar.gz"),
            _listed("2.0", "tool-2.0-py3-none-any.whl", ">=3.12"),  # not on 3.10
        ),
        canonicalize_name("native"): (
            _listed("1.0", "native-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"),
        ),
    }
    # Resolved on 3.13 (tool 2.0): 3.10 cannot take tool 2.0, so it resolves differently.
    on_313 = _resolved(("tool", "2.0"))
    assert not resolves_the_same(linux313, on_313, linux310, pages)
    assert resolves_the_same(linux313, on_313, Target(12, "linux"), pages)
    # A Linux-only wheel: Windows finds no file of native 1.0.
    native = _resolved(("native", "1.0"))
    assert not resolves_the_same(linux313, native, win313, pages)
    # A marker pip evaluated that differs between the two: never the same.
    marked = _resolved(("tool", "2.0"), markers=('sys_platform == "win32"',))
    assert not resolves_the_same(linux313, marked, win313, pages)
    assert resolves_the_same(linux313, marked, Target(13, "macos"), pages)
    # No record (pip-compile wrote none): never reused.
    bare = Resolution(on_313.pins, None)
    assert not resolves_the_same(linux313, bare, Target(12, "linux"), pages)


@pytest.mark.parametrize(
    ("requires_python", "python", "admitted"),
    [
        (None, "3.11.7", True),
        ("", "3.11.7", True),
        (">=3.8", "3.11.7", True),
        (">=3.12", "3.11.7", False),
        ("<3.12,>=3.10", "3.12.0", False),
        (">=3.12", "3.13.0rc1", True),  # a prerelease of Python itself is admitted
        ("not a specifier", "3.11.7", True),  # pip ignores what it cannot parse
    ],
)
def test_requires_python_as_pip_reads_it(
    requires_python: str | None, python: str, admitted: bool
) -> None:
    from hardenreq.targets import admits_python

    assert admits_python(requires_python, Version(python)) is admitted
