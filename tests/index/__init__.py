"""The loopback package index the test suite runs against: hand-built distributions and a server."""

from .builder import (
    TINY_BACKEND,
    build_backend_sdist,
    build_sdist,
    build_setuptools_stub,
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
    "TINY_BACKEND",
    "FaultKind",
    "IndexFactory",
    "IndexServer",
    "RecordedRequest",
    "build_backend_sdist",
    "build_sdist",
    "build_setuptools_stub",
    "build_wheel",
    "escape_name",
    "file_sha256",
    "normalize_version",
    "publish_standard_projects",
    "sdist_filename",
    "wheel_filename",
]
