"""Known vulnerabilities and known malware of pinned releases, from OSV data.

Three sources, asked in this order and merged by alias: the index's own vulnerability data
(``Release.vulnerabilities``, where the index serves it), the OSV API (``osv``), and an
offline OSV dump (``offline``). ``match`` holds the pure part (OSV records, version ranges,
alias merging, which release fixes what); ``check`` joins the sources for verify, harden
and refresh. Importing this package loads no HTTP code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hardenreq.models import Severity

__all__ = ["DEFAULT_OSV_URL", "INDEX_ONLY", "OSV_URL_VARIABLE", "AdvisoryOptions"]

#: OSV's public API. OSV is not a package registry, so its host may be named here; a mirror
#: is given with ``--osv-url``, ``osv-url`` in ``[tool.hardenreq]`` or ``HARDENREQ_OSV_URL``.
DEFAULT_OSV_URL: Final = "https://api.osv.dev/v1"
#: The environment variable that names the OSV API (under ``--osv-url``, over the config).
OSV_URL_VARIABLE: Final = "HARDENREQ_OSV_URL"


@dataclass(frozen=True, slots=True)
class AdvisoryOptions:
    """Which advisory sources a run asks, and how ``vulnerable`` findings are graded.

    ``osv_api`` None means: on, unless ``advisory_db`` is given (an offline dump is meant
    for machines that cannot reach the API). ``require`` turns a source that cannot be
    used into an error (exit 3) instead of an ``advisories-unavailable`` warning.
    """

    enabled: bool = True
    index: bool = True
    osv_api: bool | None = None
    osv_url: str = DEFAULT_OSV_URL
    advisory_db: Path | None = None
    require: bool = False
    vulnerable_severity: Severity = Severity.ERROR

    @property
    def use_osv_api(self) -> bool:
        """Whether the OSV API is asked."""
        if not self.enabled:
            return False
        return self.osv_api if self.osv_api is not None else self.advisory_db is None

    @property
    def use_index(self) -> bool:
        """Whether the index's own vulnerability data is reported."""
        return self.enabled and self.index


#: Only the index's own data, as verify reported it before OSV (library callers' default).
INDEX_ONLY: Final = AdvisoryOptions(osv_api=False)
