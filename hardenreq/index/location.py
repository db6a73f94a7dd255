"""Which index pip would use: requirements-file options, then pip's configuration, then pip.

pip reads its configuration files in this order, later ones winning (pip's documentation,
"Configuration"): the global files (``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``),
the user files (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``), the site file of the
active environment (``<venv>/pip.conf``), then ``PIP_CONFIG_FILE``. ``PIP_CONFIG_FILE`` set
to ``os.devnull`` turns every file off. ``PIP_*`` variables override the files, and for
``pip install`` the ``[install]`` section overrides ``[global]``.
"""

from __future__ import annotations

import configparser
import io
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from hardenreq._files import MAX_PIP_CONF_BYTES, read_regular_file
from hardenreq.errors import ConfigError, UnreadableFile
from hardenreq.redact import redact_url

__all__ = [
    "BuildConstraintSetting",
    "FileIndexOption",
    "IndexSettings",
    "json_api_base",
    "load_build_constraints",
    "load_index_settings",
    "pip_default_index",
]

_SECTIONS = ("global", "install")


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """The indexes to ask, and how to reach them; URLs may carry credentials."""

    index_url: str | None
    extra_index_urls: tuple[str, ...] = ()
    cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    origin: str = "pip's default"
    config_files: tuple[Path, ...] = field(default=())
    skipped: tuple[str, ...] = ()
    #: Index URLs and trusted hosts written in the requirements files (not configuration).
    from_files: frozenset[str] = frozenset()

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index, the main one first."""
        main = () if self.index_url is None else (self.index_url,)
        return main + tuple(u for u in self.extra_index_urls if u != self.index_url)

    def describe(self) -> str:
        """A one-line, credential-free description for logs."""
        if not self.urls:
            return "no index"
        listed = ", ".join(redact_url(u) for u in self.urls)
        return f"{listed} (from {self.origin})"


def pip_default_index() -> str:
    """pip's built-in default index URL, asked of the installed pip."""
    # pip keeps its default in one place; reading it keeps hardenreq in step with pip.
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url)


def _config_files(environ: Mapping[str, str], prefix: str) -> list[Path]:
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and Path(env_file).exists()):
        home = Path(environ.get("HOME") or Path.home())
        xdg_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    files.append(Path(environ.get("VIRTUAL_ENV") or prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def _read_config(files: Iterable[Path]) -> tuple[dict[str, str], list[Path]]:
    values: dict[str, str] = {}
    used: list[Path] = []
    for path in files:
        if not path.is_file():
            continue
        # Bounded, and refused unless a regular file: is_file() above is only a hint, the
        # path can be swapped for a FIFO before it is opened.
        try:
            data = read_regular_file(path, limit=MAX_PIP_CONF_BYTES, what="the pip configuration")
        except UnreadableFile as exc:
            if isinstance(exc.__cause__, OSError):
                continue  # configparser's read() skips a file it cannot open, and so does pip
            raise ConfigError(exc.message) from exc
        parser = configparser.RawConfigParser(strict=False)
        try:
            # newline=None: universal newlines, as the text-mode open() of parser.read does.
            parser.read_file(io.StringIO(data.decode("utf-8"), newline=None), source=str(path))
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a valid pip configuration file: {exc}") from exc
        used.append(path)
        for section in _SECTIONS:
            if parser.has_section(section):
                for key, value in parser.items(section):
                    values[f"{section}.{key.lower().replace('_', '-')}"] = value
    return values, used


def _setting(values: Mapping[str, str], environ: Mapping[str, str], key: str) -> str | None:
    env_value = environ.get("PIP_" + key.upper().replace("-", "_"))
    if env_value is not None:
        return env_value
    for section in reversed(_SECTIONS):
        if f"{section}.{key}" in values:
            return values[f"{section}.{key}"]
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class FileIndexOption:
    """An index option line of a requirements file, in the order pip reads it.

    ``option`` is ``--index-url``, ``--extra-index-url``, ``--no-index`` or
    ``--trusted-host``; ``value`` has its ``${VARIABLES}`` expanded; ``where`` is
    ``path:line``.
    """

    option: str
    value: str | None
    where: str


def load_index_settings(
    *,
    file_options: Iterable[FileIndexOption] = (),
    override_index_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    prefix: str | None = None,
) -> IndexSettings:
    """The index settings pip would use for these requirements files.

    pip starts from its configuration (``PIP_*`` variables, then the files, then its
    default) and applies the option lines of the files in the order it reads them
    (``handle_option_line`` in pip): ``--index-url`` replaces every index chosen so far,
    extras included; ``--extra-index-url`` adds one; ``--no-index`` drops them all for the
    rest of the run. ``override_index_url`` (hardenreq's own ``--index-url``) then replaces
    the main index. Raises ConfigError.
    """
    env = os.environ if environ is None else environ
    files = _config_files(env, sys.prefix if prefix is None else prefix)
    values, used = _read_config(files)
    configured_index = _setting(values, env, "index-url")
    origin = "pip configuration" if configured_index else "pip's default"
    if env.get("PIP_INDEX_URL"):
        origin = "PIP_INDEX_URL"
    urls: list[str] = [configured_index or pip_default_index()]
    configured_extras = _setting(values, env, "extra-index-url")
    urls += configured_extras.split() if configured_extras else []
    trusted: list[str] = []
    configured_trusted = _setting(values, env, "trusted-host")
    if configured_trusted:
        trusted += configured_trusted.split()
    cert = _setting(values, env, "cert")
    no_index = _truthy(_setting(values, env, "no-index"))
    if no_index:
        urls, origin = [], "--no-index"
    from_files: set[str] = set()
    for line in file_options:
        if line.option == "--no-index":
            no_index, urls, origin = True, [], f"--no-index ({line.where})"
        elif line.option == "--index-url" and line.value and not no_index:
            urls, origin = [line.value], line.where
            from_files.add(line.value)
        elif line.option == "--extra-index-url" and line.value and not no_index:
            urls.append(line.value)
            from_files.add(line.value)
        elif line.option == "--trusted-host" and line.value:
            trusted.append(line.value)
            from_files.add(line.value)
    if override_index_url:
        urls, origin = [override_index_url, *urls[1:]], "--index-url"
    index_url = urls[0] if urls else None
    extras = urls[1:]
    if index_url is not None:
        _check_url(index_url)
    # pip also reads file: indexes; hardenreq cannot hash what it cannot fetch over HTTP,
    # so such an extra index is skipped and the CLI says so.
    skipped = tuple(u for u in extras if not _is_http(u))
    return IndexSettings(
        index_url=index_url,
        extra_index_urls=tuple(dict.fromkeys(u for u in extras if _is_http(u))),
        skipped=skipped,
        cert=cert,
        trusted_hosts=tuple(dict.fromkeys(trusted)),
        origin=origin,
        config_files=tuple(used),
        from_files=frozenset(from_files),
    )


@dataclass(frozen=True, slots=True)
class BuildConstraintSetting:
    """The build-constraint files ``pip install`` would read, as written (a relative path
    is opened from the folder pip runs in), and where the setting comes from."""

    values: tuple[str, ...]
    origin: str


def load_build_constraints(
    *, environ: Mapping[str, str] | None = None, prefix: str | None = None
) -> BuildConstraintSetting:
    """``build-constraint`` as ``pip install`` reads it: ``PIP_BUILD_CONSTRAINT``, else the
    configuration files' ``[install]``, else ``[global]``; pip splits the value at
    whitespace. Raises ConfigError for a configuration file pip could not load."""
    env = os.environ if environ is None else environ
    values, used = _read_config(_config_files(env, sys.prefix if prefix is None else prefix))
    if env.get("PIP_BUILD_CONSTRAINT") is not None:
        origin = "PIP_BUILD_CONSTRAINT"
    else:
        origin = "pip configuration (" + ", ".join(str(p) for p in used) + ")"
    value = _setting(values, env, "build-constraint")
    return BuildConstraintSetting(tuple(value.split()) if value else (), origin)


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_url(url: str) -> None:
    if not _is_http(url):
        raise ConfigError(
            f"index URL {redact_url(url)} is not a valid http(s) URL",
            hint="hardenreq reads hashes from an index over HTTP; file: indexes are not supported",
        )


def json_api_base(index_url: str) -> str | None:
    """The JSON API root of an index whose simple URL ends in ``/simple``, else None.

    ``https://index.example.com/simple`` has its JSON API at ``https://index.example.com/pypi``
    (the layout of the public index, Warehouse, and of mirrors such as devpi and Artifactory).
    """
    parts = urlsplit(index_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/simple"):
        return None
    return urlunsplit(parts._replace(path=path[: -len("simple")] + "pypi", query="", fragment=""))
