"""The loopback package index the test suite runs against: hand-built distributions and a server."""

from .builder import (
    build_sdist,
    build_wheel,
    escape_name,
    file_sha256,
    normalize_version,
    sdist_filename,
    wheel_filename,
)
from .server import (
    BAD_DIGEST,
    SIMPLE_HTML,
    SIMPLE_JSON,
    FaultKind,
    IndexFactory,
    IndexServer,
    RecordedRequest,
    publish_standard_projects,
)

__all__ = [
    "BAD_DIGEST",
    "SIMPLE_HTML",
    "SIMPLE_JSON",
    "FaultKind",
    "IndexFactory",
    "IndexServer",
    "RecordedRequest",
    "build_sdist",
    "build_wheel",
    "escape_name",
    "file_sha256",
    "normalize_version",
    "publish_standard_projects",
    "sdist_filename",
    "wheel_filename",
]
