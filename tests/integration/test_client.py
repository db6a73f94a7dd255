"""The index client against the loopback index: retries, Retry-After, timeouts, credentials
from netrc, and the index pip's configuration names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from hardenreq.errors import IndexUnavailable
from hardenreq.index.client import HttpFetcher, parse_retry_after
from hardenreq.index.location import FileIndexOption, load_index_settings
from hardenreq.index.policy import RetryPolicy
from hardenreq.index.sources import IndexChain
from hardenreq.models import Pin, Release
from tests.index import IndexFactory, IndexServer

PIN = Pin(canonicalize_name("tinyweb"), Version("2.0"))


def fetch(
    url: str, policy: RetryPolicy, delays: list[float] | None = None, pin: Pin = PIN
) -> Release:
    settings = load_index_settings(override_index_url=url)

    async def run() -> Release:
        sleep = delays.append if delays is not None else None
        async with HttpFetcher(settings, policy, sleep=sleep) as fetcher:
            return await IndexChain(fetcher, settings.urls).fetch_release(pin)

    return asyncio.run(run())


def test_retry_after_is_honoured(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "429", times=2, retry_after=7)
    delays: list[float] = []
    release = fetch(index.simple_url, RetryPolicy(attempts=4), delays)
    assert len(release.files) == 2
    assert delays == [7.0, 7.0]


def test_retry_after_is_capped(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "503", times=1, retry_after=3600)
    delays: list[float] = []
    fetch(index.simple_url, RetryPolicy(attempts=2, max_delay=20.0), delays)
    assert delays == [20.0]


def test_backoff_grows_with_jitter(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "500", times=3)
    delays: list[float] = []
    fetch(index.simple_url, RetryPolicy(attempts=4, backoff=0.5), delays)
    assert len(delays) == 3
    for attempt, delay in enumerate(delays, start=1):
        base = 0.5 * 2 ** (attempt - 1)
        assert base <= delay <= 2 * base


def test_bounded_retries_then_a_clear_error(index: IndexServer) -> None:
    index.add_fault(r"^/simple/tinyweb/", "500", times=10)
    delays: list[float] = []
    with pytest.raises(IndexUnavailable) as caught:
        fetch(index.simple_url, RetryPolicy(attempts=3), delays)
    assert len(delays) == 2
    message = str(caught.value)
    assert message.startswith("tinyweb==2.0: could not fetch http://127.0.0.1:")
    assert "after 3 attempts (HTTP 500)" in message


def test_a_slow_answer_times_out_and_is_retried(index: IndexServer) -> None:
    # The release-endpoint probe is slow (its late 404 needs nothing once the test is over).
    index.add_fault(r"^/pypi/tinyweb/", "slow", times=1, delay=1.5)
    delays: list[float] = []
    release = fetch(index.simple_url, RetryPolicy(attempts=2, timeout=1.0), delays)
    assert len(release.files) == 2
    assert len(delays) == 1


def test_credentials_from_netrc(make_index: IndexFactory, tmp_path: Path) -> None:
    index = make_index(auth=("user", "from-netrc"))
    netrc = Path.home() / ".netrc"
    netrc.write_text("machine 127.0.0.1 login user password from-netrc\n")
    netrc.chmod(0o600)
    release = fetch(index.simple_url, RetryPolicy(attempts=1))
    assert len(release.files) == 2


def test_index_from_pip_configuration(
    index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = http://127.0.0.1:9/simple\n"
        f"[install]\nindex_url = {index.simple_url}\n"
        "extra-index-url =\n    file:///nowhere/simple\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    settings = load_index_settings()
    assert settings.index_url == index.simple_url  # [install] wins over [global]
    assert settings.origin == "pip configuration"
    assert settings.skipped == ("file:///nowhere/simple",)
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.example.com/simple")
    assert load_index_settings().index_url == "https://index.example.com/simple"
    # An --index-url line in the requirements file wins over the environment, as in pip.
    line = FileIndexOption("--index-url", index.simple_url, "requirements.txt:1")
    assert load_index_settings(file_options=[line]).index_url == index.simple_url


def test_pip_default_index_when_nothing_is_configured() -> None:
    settings = load_index_settings()
    assert settings.origin == "pip's default"
    assert settings.index_url is not None
    assert settings.index_url.startswith("https://")
    assert settings.index_url.endswith("/simple")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), ("0", 0.0), (None, None), ("soon", None), ("Thu, 01 Jan 1970 00:00:10 GMT", 5.0)],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=5.0) == seconds
