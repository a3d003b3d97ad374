"""Configuration as immutable values (SPEC §4).

``load_config(path)`` reads a TOML file, checks every key and type, and returns
a frozen :class:`Config`. An unknown key or a value of the wrong type raises
:class:`~archiver.errors.ConfigError` naming the key, for example::

    config.toml: [fetch] per_host_delay: expected a duration like "1s", got 5
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError

DEFAULT_USER_AGENT = f"archiver/{__version__} (+https://github.com/archiver-project/archiver)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.I)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Durations and sizes beyond these are typos (and overflow date arithmetic):
# a config naming them is refused, naming the key.
MAX_DURATION = 100 * 365 * 86400.0  # 100 years
MAX_SIZE = 2**50  # 1 PiB
MAX_RETRIES = 10
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def parse_duration(text: str) -> float:
    """``"90s"`` -> 90.0 seconds. Raises ValueError."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(text)
    return float(match[1]) * _DURATION_UNITS[match[2].lower()]


def parse_size(text: str) -> int:
    """``"50MB"`` -> 50_000_000 bytes. Raises ValueError."""
    match = _SIZE.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(text)
    return int(float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()])


@dataclass(frozen=True)
class Source:
    """One ``[[sources]]`` entry: exactly one of url / feed / path."""

    url: str | None = None
    feed: str | None = None
    path: str | None = None
    name: str | None = None

    @property
    def kind(self) -> str:
        return "url" if self.url else "feed" if self.feed else "path"

    @property
    def target(self) -> str:
        return self.url or self.feed or self.path or ""

    @property
    def label(self) -> str:
        return self.name or self.target


@dataclass(frozen=True)
class ArchiveConfig:
    dir: Path = Path("archives")
    warc_max_size: int = parse_size("1GB")
    database: str = ""  # empty: SQLite at <dir>/archive.db; "postgresql://..." (SPEC §11)


@dataclass(frozen=True)
class CollectConfig:
    include_comments: bool = True
    exclude: tuple[str, ...] = ()
    max_comments: int = 5000  # per article, comment platforms' endpoints included
    disqus_api_key: str = ""  # a Disqus application's public key: read Disqus comments through its API


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body: int = parse_size("50MB")
    max_redirects: int = 10
    respect_robots: bool = False
    allow_private_networks: bool = False
    retries: int = 2


@dataclass(frozen=True)
class CheckConfig:
    recheck_after: float = parse_duration("7d")
    retry_failing_after: float = parse_duration("1d")
    confirm_checks: int = 3
    confirm_span: float = parse_duration("72h")
    changed_below: float = 0.8


@dataclass(frozen=True)
class ScheduleConfig:
    sweep: str = "0 3 * * *"


REPORT_FORMATS = ("html", "md", "json")


@dataclass(frozen=True)
class ReportConfig:
    formats: tuple[str, ...] = REPORT_FORMATS
    keep: int = 30  # sweep reports kept under <archive.dir>/reports/ (latest.* always)


@dataclass(frozen=True)
class ServeConfig:
    """The review workbench (SPEC §9)."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # base URL the workbench is reached at, for links in reports
    token: str = ""  # required (non-empty) when host is not a loopback address
    reviewer: str = ""  # name recorded with decisions made from the CLI
    replay_port: int = 0  # archived pages replay from this port (another origin); 0: port + 1
    replay_url: str = ""  # base URL the replay is reached at; empty: public_url's host at replay_port


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple[str, ...] = ()  # Apprise URLs told about newly dead/changed/moved links


RENDER_MODES = ("auto", "never", "always")


@dataclass(frozen=True)
class RenderConfig:
    """Headless Chromium for pages whose raw HTML carries too little text (SPEC §5)."""

    mode: str = "auto"
    browser: str = ""  # path to Chromium; empty: look for it on PATH
    max_concurrent: int = 2
    timeout: float = parse_duration("30s")


PROVIDER_KINDS = ("oembed", "reddit", "mastodon", "bluesky")  # how archiver.check.platforms reads an endpoint's answer


@dataclass(frozen=True)
class PlatformsConfig:
    """Existence checks through platforms' public endpoints (SPEC §5)."""

    enabled: bool = True
    providers: tuple[dict[str, Any], ...] = ()  # extra oEmbed providers: {name, url_patterns, endpoint}


DEFAULT_EXTERNAL_ARCHIVES = ("https://web.archive.org/web/", "https://archive.today/timegate/")


@dataclass(frozen=True)
class ExternalConfig:
    """Other web archives, through Memento (SPEC §10)."""

    archives: tuple[str, ...] = DEFAULT_EXTERNAL_ARCHIVES  # TimeGate prefixes
    lookup: bool = True
    submit: bool = False
    save_url: str = "https://web.archive.org/save"  # Save Page Now 2's endpoint (submit = true)


@dataclass(frozen=True)
class Config:
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    sources: tuple[Source, ...] = ()
    collect: CollectConfig = field(default_factory=CollectConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    platforms: PlatformsConfig = field(default_factory=PlatformsConfig)
    external: ExternalConfig = field(default_factory=ExternalConfig)
    path: Path | None = None  # the file it was read from, if any

    @property
    def archive_dir(self) -> Path:
        return self.archive.dir



# How each key is read: (kind, extra) where kind picks a converter below.
_SECTIONS: dict[str, type] = {
    "archive": ArchiveConfig,
    "collect": CollectConfig,
    "fetch": FetchConfig,
    "check": CheckConfig,
    "schedule": ScheduleConfig,
    "report": ReportConfig,
    "serve": ServeConfig,
    "notify": NotifyConfig,
    "render": RenderConfig,
    "platforms": PlatformsConfig,
    "external": ExternalConfig,
}
_KINDS: dict[tuple[str, str], str] = {
    ("archive", "dir"): "path",
    ("archive", "warc_max_size"): "size",
    ("archive", "database"): "database",
    ("collect", "include_comments"): "bool",
    ("collect", "exclude"): "regex_list",
    ("collect", "max_comments"): "positive_int",
    ("collect", "disqus_api_key"): "str",
    ("fetch", "user_agent"): "header_value",
    ("fetch", "concurrency"): "positive_int",
    ("fetch", "per_host_concurrency"): "positive_int",
    ("fetch", "per_host_delay"): "duration",
    ("fetch", "connect_timeout"): "duration",
    ("fetch", "read_timeout"): "duration",
    ("fetch", "total_timeout"): "duration",
    ("fetch", "max_body"): "size",
    ("fetch", "max_redirects"): "int",
    ("fetch", "respect_robots"): "bool",
    ("fetch", "allow_private_networks"): "bool",
    ("fetch", "retries"): "retries",
    ("check", "recheck_after"): "duration",
    ("check", "retry_failing_after"): "duration",
    ("check", "confirm_checks"): "positive_int",
    ("check", "confirm_span"): "duration",
    ("check", "changed_below"): "fraction",
    ("schedule", "sweep"): "cron",
    ("report", "formats"): "formats",
    ("report", "keep"): "positive_int",
    ("serve", "host"): "str",
    ("serve", "port"): "port",
    ("serve", "public_url"): "http_url_or_empty",
    ("serve", "token"): "str",
    ("serve", "reviewer"): "str",
    ("serve", "replay_port"): "port",
    ("serve", "replay_url"): "http_url_or_empty",
    ("notify", "urls"): "str_list",
    ("render", "mode"): "render_mode",
    ("render", "browser"): "str",
    ("render", "max_concurrent"): "positive_int",
    ("render", "timeout"): "duration",
    ("platforms", "enabled"): "bool",
    ("platforms", "providers"): "providers",
    ("external", "archives"): "http_url_list",
    ("external", "lookup"): "bool",
    ("external", "submit"): "bool",
    ("external", "save_url"): "http_url_or_empty",
}


def _convert(kind: str, value: Any, where: str, base: Path) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: expected {expected}, got {value!r}")

    if kind == "str":
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if kind == "header_value":  # sent as an HTTP header: printable ASCII only
        if not isinstance(value, str) or not all(" " <= c <= "~" for c in value):
            raise fail("printable ASCII text (it is sent as an HTTP header; write non-ASCII names "
                       "in ASCII or percent-encoded)")
        return value
    if kind == "retries":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
            raise fail(f"a whole number from 0 to {MAX_RETRIES}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if kind in ("int", "positive_int"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise fail("a whole number >= 0" if kind == "int" else "a whole number >= 1")
        if kind == "positive_int" and value < 1:
            raise fail("a whole number >= 1")
        return value
    if kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise fail("a number between 0 and 1")
        return float(value)
    if kind == "duration":
        try:
            seconds = parse_duration(value)
        except ValueError:
            raise fail('a duration like "1s", "30m", "72h" or "7d"') from None
        if not seconds <= MAX_DURATION:  # also catches inf from a 400-digit number
            raise fail("a duration of at most 100 years")
        return seconds
    if kind == "size":
        try:
            size = parse_size(value)
        except ValueError:
            raise fail('a size like "50MB" or "1GB"') from None
        except OverflowError:
            raise fail("a size of at most 1 PiB") from None
        if size > MAX_SIZE:
            raise fail("a size of at most 1 PiB")
        return size
    if kind == "path":
        if not isinstance(value, str) or not value or "\x00" in value:
            raise fail("a directory path")
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else base / path
    if kind == "regex_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail("a list of regular expressions")
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None
        return tuple(value)
    if kind == "formats":
        if not isinstance(value, list) or not all(v in REPORT_FORMATS for v in value):
            raise fail(f"a list drawn from {list(REPORT_FORMATS)}")
        return tuple(value)
    if kind == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise fail("a port number between 0 and 65535")
        return value
    if kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail("a list of non-empty strings")
        return tuple(value)
    if kind in ("http_url_or_empty", "http_url_list"):
        items = [value] if kind == "http_url_or_empty" else value
        if not isinstance(items, list) or not all(
            isinstance(v, str) and (v == "" and kind == "http_url_or_empty" or re.match(r"^https?://[^/\s]+", v))
            for v in items
        ):
            raise fail("an http(s) URL" if kind == "http_url_or_empty" else "a list of http(s) URLs")
        return value.rstrip("/") if kind == "http_url_or_empty" else tuple(value)
    if kind == "database":
        if not isinstance(value, str) or not (value == "" or re.match(r"^postgres(ql)?://", value)):
            raise fail('"" (SQLite in the archive directory) or a "postgresql://..." URL')
        return value
    if kind == "render_mode":
        if value not in RENDER_MODES:
            raise fail(" | ".join(RENDER_MODES))
        return value
    if kind == "providers":
        if not isinstance(value, list) or not all(
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and isinstance(v.get("endpoint"), str)
            and isinstance(v.get("url_patterns"), list)
            and all(isinstance(u, str) for u in v["url_patterns"])
            for v in value
        ):
            raise fail("a list of {name, url_patterns, endpoint} tables")
        for v in value:  # what archiver.check.platforms reads: a kind it knows, patterns that compile
            if v.get("kind", "oembed") not in PROVIDER_KINDS:
                raise ConfigError(f"{where}: provider {v['name']!r}: kind must be one of "
                                  f"{', '.join(PROVIDER_KINDS)}, got {v.get('kind')!r}")
            for pattern in v["url_patterns"]:
                try:
                    re.compile(pattern[3:]) if pattern.startswith("re:") else None
                except re.error as exc:
                    raise ConfigError(f"{where}: provider {v['name']!r}: bad pattern {pattern!r}: {exc}") from None
        return tuple(dict(v) for v in value)
    if kind == "cron":
        if not isinstance(value, str):
            raise fail('a cron expression like "0 3 * * *"')
        _check_cron(value, where)
        return value
    raise AssertionError(kind)  # pragma: no cover


def _check_cron(expression: str, where: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ConfigError(f"{where}: invalid cron expression {expression!r}: {exc}") from None


def _read_section(name: str, table: Any, label: str, base: Path) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{label}: [{name}] must be a table")
    values = {}
    known = {f.name for f in fields(cls)}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{label}: [{name}] {key}: unknown key (known: {', '.join(sorted(known))})")
        values[key] = _convert(_KINDS[(name, key)], value, f"{label}: [{name}] {key}", base)
    return cls(**values)


def _read_sources(items: Any, label: str, base: Path) -> tuple[Source, ...]:
    if not isinstance(items, list):
        raise ConfigError(f"{label}: sources must be written as [[sources]] tables")
    sources = []
    for number, item in enumerate(items, 1):
        where = f"{label}: [[sources]] #{number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a table")
        for key, value in item.items():
            if key not in ("url", "feed", "path", "name"):
                raise ConfigError(f"{where} {key}: unknown key (known: feed, name, path, url)")
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where} {key}: expected a non-empty string, got {value!r}")
        given = [k for k in ("url", "feed", "path") if k in item]
        if len(given) != 1:
            raise ConfigError(f"{where}: needs exactly one of url, feed, path (got {', '.join(given) or 'none'})")
        if "path" in item and not os.path.isabs(os.path.expanduser(item["path"])):
            item = {**item, "path": str(base / item["path"])}  # relative to the config file
        sources.append(Source(**item))
    return tuple(sources)


def load_config(path: Path | None) -> Config:
    """Read ``path`` (or return the built-in defaults when it is None)."""
    if path is None:
        return Config()
    label = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{label}: is a directory, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                          "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    base = path.parent
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key == "sources":
            sections["sources"] = _read_sources(value, label, base)
        elif key in _SECTIONS:
            sections[key] = _read_section(key, value, label, base)
        else:
            raise ConfigError(f"{label}: [{key}]: unknown section (known: {', '.join(sorted([*_SECTIONS, 'sources']))})")
    if "archive" not in sections:
        sections["archive"] = ArchiveConfig(dir=base / "archives")
    return Config(**sections, path=path)


def database_label(config: Config) -> str:
    """How messages name the archive database: its file, or "the database" (PostgreSQL)."""
    return "the database" if config.archive.database else str(config.archive.dir / "archive.db")


def find_config(explicit: str | None) -> Path | None:
    """``--config``, else ``$ARCHIVER_CONFIG``, else ``./config.toml``, else None."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ARCHIVER_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None
