"""verify: compare hashed requirements files with the index as it is now, as findings.

A bad line is reported, never raised: the result is a VerifyReport whatever the files hold.
Only what stops the check itself raises: an unreadable or unparsable file (exit 2) and an
unreachable index (exit 3).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from hardenreq.errors import NotOnIndex
from hardenreq.index.location import IndexSettings
from hardenreq.models import (
    DistributionFile,
    Finding,
    FindingKind,
    Pin,
    Release,
    VerifyReport,
)
from hardenreq.plan import DigestFetcher, NoProgress, Progress, ReleaseFetcher
from hardenreq.redact import redact_text, redact_url
from hardenreq.reqfile.parse import OptionEntry, RequirementEntry, RequirementsTree

__all__ = ["display_path", "verify_tree"]

_PINNED_HINT = "pin it with == and add its hashes: hardenreq harden"


def display_path(path: Path) -> str:
    """A path as reports show it: relative to the working folder when below it (so SARIF
    and GitHub annotations point into the repository), POSIX separators."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _plain_http(url: str) -> bool:
    """http to anything but this machine (loopback traffic never leaves it)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1")


def _option_findings(entry: OptionEntry, file: str) -> Iterable[Finding]:
    if entry.hashes:
        yield Finding(
            FindingKind.INEFFECTIVE_HASH,
            file,
            entry.lineno,
            "--hash with no requirement on its logical line: pip ignores it (a comment or "
            "blank line cuts it off from its requirement)",
            details=(("hashes", [f"{h.algorithm}:{h.digest}" for h in entry.hashes]),),
        )
    for option, value in entry.options:
        if option in ("--index-url", "--extra-index-url") and value:
            shown = redact_url(value)
            if _plain_http(value):
                yield Finding(
                    FindingKind.INSECURE_INDEX,
                    file,
                    entry.lineno,
                    f"{option} {shown} is plain http: anyone on the path can change what "
                    "pip sees (hashes still protect pinned files)",
                    details=(("url", shown),),
                )
            if option == "--extra-index-url":
                yield Finding(
                    FindingKind.EXTRA_INDEX,
                    file,
                    entry.lineno,
                    f"--extra-index-url {shown}: pip takes a project from whichever index "
                    "offers the best version, so a name published on both invites "
                    "dependency confusion",
                    details=(("url", shown),),
                )
        elif option == "--trusted-host" and value:
            yield Finding(
                FindingKind.INSECURE_INDEX,
                file,
                entry.lineno,
                f"--trusted-host {value} turns off TLS checks for that host",
                details=(("host", value),),
            )


def _local_findings(entry: RequirementEntry, file: str) -> tuple[list[Finding], Pin | None]:
    """Findings that need no index, and the pin to check on the index (if any)."""
    findings: list[Finding] = []
    name = str(entry.name) if entry.name else None
    spec = redact_text(entry.spec)
    if entry.ignored_hashes:
        findings.append(
            Finding(
                FindingKind.INEFFECTIVE_HASH,
                file,
                entry.lineno,
                f"{spec}: a comment before a \\ continuation makes pip ignore the "
                f"{len(entry.ignored_hashes)} --hash value(s) after it",
                name,
                details=(("hashes", [f"{h.algorithm}:{h.digest}" for h in entry.ignored_hashes]),),
            )
        )
    if entry.ignored_other is not None:
        findings.append(
            Finding(
                FindingKind.INEFFECTIVE_HASH,
                file,
                entry.lineno,
                f"a comment before a \\ continuation makes pip ignore {entry.ignored_other!r}",
                name,
                details=(("ignored", entry.ignored_other),),
            )
        )
    reason = entry.unhashable_reason
    if reason is not None:
        findings.append(
            Finding(FindingKind.UNHASHABLE, file, entry.lineno, f"{spec}: {reason}", name)
        )
        return findings, None
    if entry.link is not None:
        if not entry.hashes and "sha256=" not in entry.link:
            findings.append(
                Finding(
                    FindingKind.NO_HASHES,
                    file,
                    entry.lineno,
                    f"{spec} has no --hash: pip's hash-checking mode refuses it",
                    name,
                )
            )
        return findings, None
    version = entry.pinned_version
    if version is None or entry.name is None:
        findings.append(
            Finding(
                FindingKind.UNPINNED,
                file,
                entry.lineno,
                f"{spec} is not pinned to one version with == or ===; {_PINNED_HINT}",
                name,
            )
        )
        return findings, None
    if not entry.hashes:
        findings.append(
            Finding(
                FindingKind.NO_HASHES,
                file,
                entry.lineno,
                f"{entry.name}=={version} has no --hash: pip installs whatever file the "
                "index serves",
                name,
                str(version),
            )
        )
    return findings, Pin(entry.name, version)


def _release_findings(entry: RequirementEntry, file: str, release: Release) -> list[Finding]:
    findings: list[Finding] = []
    pin = release.pin
    name, version = str(pin.name), str(pin.version)
    by_digest = {f.sha256: f for f in release.files}
    if entry.hashes:
        for pinned in entry.hashes:
            if pinned.algorithm == "sha256" and pinned.digest in by_digest:
                continue
            why = (
                "matches no file of this release on the index (replaced, tampered with or "
                "removed: find out which before trusting it)"
                if pinned.algorithm == "sha256"
                else "cannot be confirmed: the index publishes sha256 digests only"
            )
            findings.append(
                Finding(
                    FindingKind.UNKNOWN_HASH,
                    file,
                    entry.lineno,
                    f"{pin}: --hash={pinned.algorithm}:{pinned.digest} {why}",
                    name,
                    version,
                    (("hash", f"{pinned.algorithm}:{pinned.digest}"),),
                )
            )
        listed = {h.digest for h in entry.hashes if h.algorithm == "sha256"}
        missing = sorted((f for f in release.files if f.sha256 not in listed), key=_by_name)
        if missing:
            names = ", ".join(f.filename for f in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            findings.append(
                Finding(
                    FindingKind.MISSING_HASH,
                    file,
                    entry.lineno,
                    f"{pin}: {len(missing)} file(s) on the index have no hash here ({names}"
                    f"{more}); pip may pick one and refuse it, or use another file",
                    name,
                    version,
                    (("files", [_file_detail(f) for f in missing]),),
                )
            )
    if (reason := release.yanked) is not None:
        findings.append(
            Finding(
                FindingKind.YANKED,
                file,
                entry.lineno,
                f"{pin} is yanked" + (f": {reason}" if reason else " (no reason given)"),
                name,
                version,
                (("reason", reason),),
            )
        )
    for vulnerability in release.vulnerabilities or ():
        fixed = ", ".join(vulnerability.fixed_in) or "no fixed release yet"
        findings.append(
            Finding(
                FindingKind.VULNERABLE,
                file,
                entry.lineno,
                f"{pin}: {vulnerability.id}"
                + (f" ({', '.join(vulnerability.aliases)})" if vulnerability.aliases else "")
                + f"; fixed in: {fixed}",
                name,
                version,
                (
                    ("id", vulnerability.id),
                    ("aliases", list(vulnerability.aliases)),
                    ("fixed_in", list(vulnerability.fixed_in)),
                    ("link", vulnerability.link),
                ),
            )
        )
    if release.latest is not None and release.latest > pin.version:
        findings.append(
            Finding(
                FindingKind.OUTDATED,
                file,
                entry.lineno,
                f"{pin}: {release.latest} is out",
                name,
                version,
                (("latest", str(release.latest)),),
            )
        )
    return findings


def _configured_findings(settings: IndexSettings, in_files: set[str], file: str) -> list[Finding]:
    """Extra indexes and trusted hosts from pip's configuration or the environment.

    Lines of the files are reported where they stand; these have no line, so they are
    reported against the first file checked.
    """
    findings: list[Finding] = []
    for url in settings.extra_index_urls:
        if url in in_files:
            continue
        shown = redact_url(url)
        findings.append(
            Finding(
                FindingKind.EXTRA_INDEX,
                file,
                None,
                f"extra index {shown} (from pip configuration or PIP_EXTRA_INDEX_URL): a name "
                "published on two indexes invites dependency confusion",
                details=(("url", shown),),
            )
        )
        if _plain_http(url):
            findings.append(
                Finding(
                    FindingKind.INSECURE_INDEX,
                    file,
                    None,
                    f"extra index {shown} (from pip configuration) is plain http",
                    details=(("url", shown),),
                )
            )
    findings.extend(
        Finding(
            FindingKind.INSECURE_INDEX,
            file,
            None,
            f"trusted host {host} (from pip configuration) turns off TLS checks",
            details=(("host", host),),
        )
        for host in settings.trusted_hosts
        if host not in in_files
    )
    return findings


async def _link_findings(
    links: list[tuple[RequirementEntry, str]], digest_url: DigestFetcher
) -> list[Finding]:
    """Download direct-URL archives that carry hashes and compare."""
    checkable = [
        (entry, file)
        for entry, file in links
        if entry.link is not None and urlsplit(entry.link).scheme in ("http", "https")
    ]

    async def digest(entry: RequirementEntry) -> str | None:
        link = (entry.link or "").split("#", 1)[0]
        return await digest_url(link, redact_url(link))

    digests = await asyncio.gather(*(digest(entry) for entry, _ in checkable))
    findings: list[Finding] = []
    for (entry, file), actual in zip(checkable, digests, strict=True):
        name = str(entry.name) if entry.name else None
        spec = redact_text(entry.spec)
        if actual is None:
            findings.append(
                Finding(FindingKind.NOT_FOUND, file, entry.lineno, f"{spec}: not found", name)
            )
            continue
        for pinned in entry.hashes:
            if pinned.algorithm == "sha256" and pinned.digest == actual:
                continue
            findings.append(
                Finding(
                    FindingKind.UNKNOWN_HASH,
                    file,
                    entry.lineno,
                    f"{spec}: --hash={pinned.algorithm}:{pinned.digest} does not match the file "
                    f"served now (sha256:{actual})",
                    name,
                    details=(("hash", f"{pinned.algorithm}:{pinned.digest}"),),
                )
            )
    return findings


def _by_name(file: DistributionFile) -> str:
    return file.filename


def _file_detail(file: DistributionFile) -> dict[str, object]:
    return {"filename": file.filename, "sha256": file.sha256, "upload_time": file.upload_time}


async def verify_tree(
    tree: RequirementsTree,
    settings: IndexSettings,
    source: ReleaseFetcher,
    progress: Progress | None = None,
    digest_url: DigestFetcher | None = None,
) -> VerifyReport:
    """Every finding for every file of ``tree`` (its includes too), in file and line order.

    ``digest_url`` downloads direct-URL archives to check their hashes (skipped if None).
    Raises only when the index cannot be asked (IndexUnavailable, IndexResponseInvalid).
    """
    progress = progress or NoProgress()
    findings: list[Finding] = []
    wanted: dict[Pin, list[tuple[RequirementEntry, str]]] = defaultdict(list)
    links: list[tuple[RequirementEntry, str]] = []
    in_files: set[str] = set()
    requirements = 0
    for path, parsed in tree.files.items():
        file = display_path(path)
        for entry in parsed.entries:
            if isinstance(entry, OptionEntry):
                findings.extend(_option_findings(entry, file))
                in_files.update(v for _, v in entry.options if v)
            elif isinstance(entry, RequirementEntry):
                requirements += 1
                local, pin = _local_findings(entry, file)
                findings.extend(local)
                if pin is not None:
                    wanted[pin].append((entry, file))
                elif entry.link is not None and entry.hashes and not entry.editable:
                    links.append((entry, file))
    if settings.index_url and _plain_http(settings.index_url) and tree.files:
        # Not from a line of the files (those are reported above): from pip's configuration,
        # the environment or the command line. Reported against the first file checked.
        findings.append(
            Finding(
                FindingKind.INSECURE_INDEX,
                display_path(next(iter(tree.files))),
                None,
                f"the index {redact_url(settings.index_url)} (from {settings.origin}) is "
                "plain http",
                details=(("url", redact_url(settings.index_url)),),
            )
        )
    if tree.files:
        findings += _configured_findings(settings, in_files, display_path(next(iter(tree.files))))
    if digest_url is not None:
        findings += await _link_findings(links, digest_url)
    pins = sorted(wanted, key=str)
    progress.start(len(pins), "checking the index")

    async def fetch(pin: Pin) -> Release | NotOnIndex:
        try:
            return await source.fetch_release(pin)
        except NotOnIndex as exc:
            return exc
        finally:
            progress.advance(str(pin))

    outcomes = await asyncio.gather(*(fetch(pin) for pin in pins))
    progress.finish()
    for pin, outcome in zip(pins, outcomes, strict=True):
        for entry, file in wanted[pin]:
            if isinstance(outcome, NotOnIndex):
                findings.append(
                    Finding(
                        FindingKind.NOT_FOUND,
                        file,
                        entry.lineno,
                        outcome.message,
                        str(pin.name),
                        str(pin.version),
                    )
                )
            else:
                findings.extend(_release_findings(entry, file, outcome))
    findings.sort(key=lambda f: (f.file, f.line or 0, f.kind.value, f.message))
    return VerifyReport(tuple(findings), tuple(display_path(p) for p in tree.files), requirements)
