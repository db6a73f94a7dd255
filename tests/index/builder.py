"""Tiny, valid wheels and sdists built by hand with zipfile and tarfile: offline and byte-for-byte
reproducible, so a file's sha256 is the same in every run."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import parse_tag
from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

# Zip timestamps cannot predate 1980; tar and gzip take a fixed instant (or 0): no clock leaks in.
_ZIP_DATE_TIME = (2020, 2, 2, 0, 0, 0)
_TAR_MTIME = 1_580_601_600  # 2020-02-02T00:00:00Z
_FILE_MODE = 0o644
# PEP 508 / core metadata: a valid distribution name.
_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def escape_name(name: str) -> str:
    """Return `name` as it appears in wheel and sdist filenames (binary distribution format spec:
    runs of `-_.` become `_`, lower-cased). Raises ValueError for a name that is not valid."""
    if not _NAME_RE.match(name):
        raise ValueError(f"not a valid distribution name: {name!r}")
    return re.sub(r"[-_.]+", "_", name).lower()


def normalize_version(version: str) -> str:
    """Return the PEP 440 normal form used in filenames and metadata (raises InvalidVersion)."""
    return str(Version(version))


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """Return the filename `build_wheel` gives this name, version and compressed tag set."""
    if tag.count("-") != 2:
        raise ValueError(f"not a compressed tag set (python-abi-platform): {tag!r}")
    filename = f"{escape_name(name)}-{normalize_version(version)}-{tag}.whl"
    parse_wheel_filename(filename)  # rejects a malformed tag
    return filename


def sdist_filename(name: str, version: str) -> str:
    """Return the filename `build_sdist` gives this name and version (PEP 625)."""
    filename = f"{escape_name(name)}-{normalize_version(version)}.tar.gz"
    parse_sdist_filename(filename)
    return filename


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    tag: str = "py3-none-any",
    requires_python: str | None = None,
    payload: bytes = b"",
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a pip-installable wheel into `dest` (created if missing) and return its path.

    The wheel holds `{module}/__init__.py` (with `__version__` and `payload` as a comment, so a
    different payload gives a different digest), any further `files` (path in the wheel ->
    bytes), and a dist-info with METADATA, WHEEL and a RECORD of sha256 digests. Raises
    ValueError for an invalid name, tag or requirement.
    """
    filename = wheel_filename(name, version, tag)
    module = escape_name(name)
    normal_version = normalize_version(version)
    dist_info = f"{module}-{normal_version}.dist-info"
    tags = sorted(str(t) for t in parse_tag(tag))
    purelib = all(t.platform == "any" for t in parse_tag(tag))
    wheel_text = "".join(
        [
            "Wheel-Version: 1.0\n",
            "Generator: hardenreq-tests\n",
            f"Root-Is-Purelib: {'true' if purelib else 'false'}\n",
            *(f"Tag: {t}\n" for t in tags),
        ]
    )
    members: list[tuple[str, bytes]] = [
        (f"{module}/__init__.py", _module_source(name, normal_version, payload)),
        (f"{dist_info}/METADATA", _metadata(name, normal_version, requires, requires_python)),
        (f"{dist_info}/WHEEL", wheel_text.encode()),
        *sorted((files or {}).items()),
    ]
    record_lines = [f"{path},sha256={_record_digest(data)},{len(data)}" for path, data in members]
    record_lines.append(f"{dist_info}/RECORD,,")
    members.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | _FILE_MODE) << 16
            archive.writestr(info, data)
    return _write_atomic(dest / filename, buffer.getvalue())


def build_sdist(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    payload: bytes = b"",
) -> Path:
    """Write an sdist `{escaped_name}-{version}.tar.gz` into `dest` and return its path.

    It holds PKG-INFO, a pyproject.toml with static `[project]` metadata (setuptools backend) and
    the module. It is never built here: the index only serves and hashes it. Raises ValueError for
    an invalid name or requirement.
    """
    filename = sdist_filename(name, version)
    module = escape_name(name)
    normal_version = normalize_version(version)
    root = filename.removesuffix(".tar.gz")
    members = [
        (f"{root}/PKG-INFO", _metadata(name, normal_version, requires, requires_python)),
        (f"{root}/pyproject.toml", _pyproject(name, normal_version, requires, requires_python)),
        (f"{root}/{module}/__init__.py", _module_source(name, normal_version, payload)),
    ]
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = _TAR_MTIME
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    gz_buffer = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of the build's path and clock.
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buffer, mtime=0) as compressed:
        compressed.write(tar_buffer.getvalue())
    return _write_atomic(dest / filename, gz_buffer.getvalue())


#: A PEP 517 build backend small enough to ship inside a test sdist: it reads
#: `[tool.tinybackend]` of the sdist's pyproject.toml, asks for `build-requires` from
#: get_requires_for_build_wheel, imports every module in `imports` while building (so a
#: build fails unless pip installed them), and writes a wheel of the `package` folder.
TINY_BACKEND = """\
\"\"\"tinybackend: a PEP 517 backend for hardenreq's tests (tests/index/builder.py).\"\"\"
import base64
import hashlib
import importlib
import os
import tomllib
import zipfile


def _config():
    with open("pyproject.toml", "rb") as handle:
        data = tomllib.load(handle)
    if "tinybackend" in data.get("tool", {}):
        return data["tool"]["tinybackend"]
    # A build_sdist sdist: static [project] metadata, its module named after the project.
    project = data["project"]
    name = project["name"]
    package = "".join("_" if c in "-_." else c for c in name).lower()
    return {"name": name, "version": project["version"], "package": package,
            "requires": project.get("dependencies", [])}


def get_requires_for_build_wheel(config_settings=None):
    config = _config()
    if config.get("warn"):
        import warnings

        warnings.warn(config["warn"], stacklevel=1)
    return list(config.get("build-requires", []))


def _record(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return digest.decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    config = _config()
    for module in config.get("imports", []):
        importlib.import_module(module)
    name, version = config["name"], config["version"]
    stem = "".join("_" if c in "-_." else c for c in name).lower() + "-" + version
    files = {}
    package = config["package"]
    for folder, _, names in os.walk(package):
        for filename in sorted(names):
            path = os.path.join(folder, filename)
            with open(path, "rb") as handle:
                files[path.replace(os.sep, "/")] = handle.read()
    metadata = "Metadata-Version: 2.1\\nName: " + name + "\\nVersion: " + version + "\\n"
    for requirement in config.get("requires", []):
        metadata += "Requires-Dist: " + requirement + "\\n"
    files[stem + ".dist-info/METADATA"] = metadata.encode()
    files[stem + ".dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\\nGenerator: tinybackend\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n"
    )
    record = [p + ",sha256=" + _record(d) + "," + str(len(d)) for p, d in files.items()]
    record.append(stem + ".dist-info/RECORD,,")
    files[stem + ".dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = stem + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2020, 2, 2, 0, 0, 0)), data)
    return filename
"""


def build_setuptools_stub(dest: Path, version: str = "80.0") -> Path:
    """Write a wheel named setuptools whose `setuptools.build_meta` is `TINY_BACKEND`, and
    return its path: with it on the loopback index, the sdists `build_sdist` makes (which
    declare the setuptools backend) build offline, as pip would build them."""
    filename = wheel_filename("setuptools", version)
    dist_info = f"setuptools-{normalize_version(version)}.dist-info"
    members: list[tuple[str, bytes]] = [
        ("setuptools/__init__.py", b'"""A stand-in for setuptools in hardenreq\'s tests."""\n'),
        ("setuptools/build_meta.py", TINY_BACKEND.encode()),
        (f"{dist_info}/METADATA", _metadata("setuptools", normalize_version(version), (), None)),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: hardenreq-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        ),
    ]
    record_lines = [f"{path},sha256={_record_digest(data)},{len(data)}" for path, data in members]
    record_lines.append(f"{dist_info}/RECORD,,")
    members.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | _FILE_MODE) << 16
            archive.writestr(info, data)
    return _write_atomic(dest / filename, buffer.getvalue())


def build_backend_sdist(
    dest: Path,
    name: str,
    version: str,
    *,
    build_requires: Sequence[str] = (),
    dynamic_requires: Sequence[str] = (),
    imports: Sequence[str] = (),
    requires: Sequence[str] = (),
    backend: str | None = None,
    is_backend: bool = False,
    warn: str | None = None,
) -> Path:
    """Write an sdist that pip builds with a real PEP 517 backend, and return its path.

    By default the backend is `TINY_BACKEND`, shipped in the sdist (`backend-path`);
    `backend` names an installed one instead (a build requirement such as another test
    sdist with `is_backend`, whose module is then `TINY_BACKEND` itself).
    `build_requires` is `[build-system] requires`; `dynamic_requires` is what the backend's
    get_requires_for_build_wheel asks for; `imports` are modules the build imports (so it
    fails unless they are installed); `requires` the built wheel's dependencies; `warn` a
    warning get_requires_for_build_wheel gives (pyproject-hooks passes it on to the caller).
    """
    filename = sdist_filename(name, version)
    module = escape_name(name)
    normal_version = normalize_version(version)
    root = filename.removesuffix(".tar.gz")
    config = {
        "name": name,
        "version": normal_version,
        "package": module,
        "build-requires": list(dynamic_requires),
        "imports": list(imports),
        "requires": [_checked_requirement(r) for r in requires],
    }
    if warn is not None:
        config["warn"] = warn
    build_system = [
        "[build-system]",
        f"requires = {json.dumps([_checked_requirement(r) for r in build_requires])}",
        f"build-backend = {json.dumps(backend or 'tinybackend')}",
    ]
    if backend is None:
        build_system.append('backend-path = ["_backend"]')
    pyproject = "\n".join(
        [
            *build_system,
            "",
            "[tool.tinybackend]",
            *(f"{key} = {json.dumps(value)}" for key, value in config.items()),
        ]
    )
    module_text = TINY_BACKEND.encode() if is_backend else _module_source(name, normal_version, b"")
    members = [
        (f"{root}/PKG-INFO", _metadata(name, normal_version, requires, None)),
        (f"{root}/pyproject.toml", (pyproject + "\n").encode()),
        (f"{root}/{module}/__init__.py", module_text),
    ]
    if backend is None:
        members.append((f"{root}/_backend/tinybackend.py", TINY_BACKEND.encode()))
    return _write_atomic(dest / filename, _tar_gz(members))


def _tar_gz(members: Sequence[tuple[str, bytes]]) -> bytes:
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = _TAR_MTIME
            info.mode = _FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    gz_buffer = io.BytesIO()
    # filename="" and mtime=0 keep the gzip header free of the build's path and clock.
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buffer, mtime=0) as compressed:
        compressed.write(tar_buffer.getvalue())
    return gz_buffer.getvalue()


def _module_source(name: str, version: str, payload: bytes) -> bytes:
    return (
        f'"""Test distribution {name} {version}, built by tests/index/builder.py."""\n\n'
        f"__version__ = {json.dumps(version)}\n"
        f"# payload: {payload.hex()}\n"
    ).encode()


def _metadata(
    name: str, version: str, requires: Sequence[str], requires_python: str | None
) -> bytes:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: Tiny test distribution {name} {version}",
    ]
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    # Extras named in the requirements' markers are declared, as real metadata does (pip
    # ignores an extra the distribution does not provide).
    extras = sorted(
        {m for req in requires for m in re.findall(r"extra\s*==\s*['\"]([^'\"]+)", req)}
    )
    lines.extend(f"Provides-Extra: {extra}" for extra in extras)
    lines.extend(f"Requires-Dist: {_checked_requirement(req)}" for req in requires)
    return ("\n".join(lines) + "\n\n").encode()


def _pyproject(
    name: str, version: str, requires: Sequence[str], requires_python: str | None
) -> bytes:
    # JSON strings of plain ASCII are valid TOML basic strings.
    lines = [
        "[build-system]",
        'requires = ["setuptools>=77"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {json.dumps(name)}",
        f"version = {json.dumps(version)}",
        f"dependencies = {json.dumps([_checked_requirement(req) for req in requires])}",
    ]
    if requires_python is not None:
        lines.append(f"requires-python = {json.dumps(requires_python)}")
    return ("\n".join(lines) + "\n").encode()


def _checked_requirement(requirement: str) -> str:
    try:
        Requirement(requirement)
    except ValueError as exc:  # InvalidRequirement subclasses ValueError
        raise ValueError(f"invalid requirement {requirement!r}: {exc}") from exc
    return requirement


def _record_digest(data: bytes) -> str:
    # Wheel RECORD: urlsafe base64 of the raw digest, without padding.
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_atomic(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
