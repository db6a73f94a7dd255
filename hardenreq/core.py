"""The entry points the CLI calls: each joins parse, index and plan for one command."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hardenreq.errors import ConfigError
from hardenreq.index.client import HttpFetcher, RetryPolicy
from hardenreq.index.location import IndexSettings, load_index_settings
from hardenreq.index.sources import IndexChain
from hardenreq.plan import HardenOptions, HardenResult, Progress, plan_harden
from hardenreq.reqfile.parse import (
    OptionEntry,
    RequirementsTree,
    expand_variables,
    parse_requirements,
)

__all__ = ["HardenRequest", "harden", "index_settings_for"]


@dataclass(frozen=True, slots=True)
class HardenRequest:
    """Everything ``harden`` needs, already validated by the CLI."""

    files: Sequence[Path]
    options: HardenOptions
    index_url: str | None = None
    retry: RetryPolicy | None = None
    environ: Mapping[str, str] | None = None


def index_settings_for(
    tree: RequirementsTree,
    *,
    index_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> IndexSettings:
    """The index settings pip would use for ``tree``: its option lines, then pip's config."""
    file_index: str | None = None
    extras: list[str] = []
    trusted: list[str] = []
    no_index = False
    for parsed in tree.files.values():
        for entry in parsed.entries:
            if not isinstance(entry, OptionEntry):
                continue
            for option, value in entry.options:
                if option == "--index-url" and value:
                    file_index = _expand(value, environ)
                elif option == "--extra-index-url" and value:
                    extras.append(_expand(value, environ))
                elif option == "--trusted-host" and value:
                    trusted.append(value)
                elif option == "--no-index":
                    no_index = True
    return load_index_settings(
        file_index_url=file_index,
        file_extra_index_urls=extras,
        file_no_index=no_index,
        file_trusted_hosts=trusted,
        override_index_url=index_url,
        environ=environ,
    )


def _expand(value: str, environ: Mapping[str, str] | None) -> str:
    return expand_variables(value, os.environ if environ is None else environ)


def harden(
    request: HardenRequest, progress: Progress | None = None
) -> tuple[HardenResult, IndexSettings]:
    """Parse the files, fetch every pinned release's digests and plan the rewrite.

    Returns the plan (nothing is written) and the index settings used.
    """
    tree = parse_requirements(list(request.files), environ=request.environ)
    settings = index_settings_for(tree, index_url=request.index_url, environ=request.environ)
    if not settings.urls:
        raise ConfigError(
            "no index to ask for hashes (--no-index is set)",
            hint="pass --index-url, or remove --no-index from the file or pip configuration",
        )
    return asyncio.run(_harden(tree, settings, request, progress)), settings


async def _harden(
    tree: RequirementsTree,
    settings: IndexSettings,
    request: HardenRequest,
    progress: Progress | None,
) -> HardenResult:
    async with HttpFetcher(settings, request.retry) as fetcher:
        chain = IndexChain(fetcher, settings.urls)
        return await plan_harden(
            tree,
            chain,
            lambda url, what: fetcher.digest(url, what=what),
            request.options,
            progress,
        )
