"""Targets: the marker of a set of environments is true on exactly those environments."""

from __future__ import annotations

import pytest
from packaging.markers import Marker

from hardenreq.errors import InputError
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
