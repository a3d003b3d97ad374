"""config.toml: every key of SPEC §4, and errors that name the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli
from archiver.config import Config, load_config, parse_duration, parse_size
from archiver.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_equals_the_defaults() -> None:
    shipped = load_config(REPO / "config.toml")
    defaults = Config()
    assert shipped.fetch == defaults.fetch
    assert shipped.check == defaults.check
    assert shipped.collect == defaults.collect
    assert shipped.schedule == defaults.schedule
    assert shipped.report == defaults.report
    assert shipped.archive.warc_max_size == defaults.archive.warc_max_size
    assert shipped.archive.dir == REPO / "archives"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("72h", 259200), ("7d", 604800), ("1.5s", 1.5), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("50MB", 50_000_000), ("1GB", 10**9), ("1KiB", 1024), ("100", 100)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[fetch]\nper_host_delay = 5\n", '[fetch] per_host_delay: expected a duration like "1s"'),
        ("[fetch]\nper_host_dely = \"5s\"\n", "[fetch] per_host_dely: unknown key"),
        ("[check]\nconfirm_span = \"3 days\"\n", "[check] confirm_span: expected a duration"),
        ("[fetch]\nconcurrency = \"many\"\n", "[fetch] concurrency: expected a whole number"),
        ("[fetch]\nrespect_robots = \"yes\"\n", "[fetch] respect_robots: expected true or false"),
        ("[fetch]\nmax_body = \"lots\"\n", "[fetch] max_body: expected a size"),
        ("[check]\nchanged_below = 2\n", "[check] changed_below: expected a number between 0 and 1"),
        ("[schedule]\nsweep = \"every night\"\n", "[schedule] sweep: invalid cron expression"),
        ("[report]\nformats = [\"pdf\"]\n", "[report] formats: expected a list drawn from"),
        ("[collect]\nexclude = [\"(\"]\n", "[collect] exclude: invalid regular expression"),
        ("[fetchh]\n", "[fetchh]: unknown section"),
        ("[[sources]]\nurl = \"https://a.example/\"\nfeed = \"https://a.example/feed\"\n",
         "[[sources]] #1: needs exactly one of url, feed, path"),
        ("[[sources]]\nurl = \"https://a.example/\"\nlabel = \"x\"\n", "[[sources]] #1 label: unknown key"),
        ("[fetch\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[fetch]\nper_host_delay = 5\n", "[fetch] per_host_delay: expected a duration"),
        ("[fetch]\nbogus = 1\n", "[fetch] bogus: unknown key"),
        ("[check]\nrecheck_after = \"7 days\"\n", "[check] recheck_after: expected a duration"),
    ],
)
def test_cli_exits_2_on_bad_config(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    result = CliRunner().invoke(cli, ["--config", str(path), "links"])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "[fetch]\nbogus = 1\n")
    monkeypatch.setenv("ARCHIVER_CONFIG", str(path))
    result = CliRunner().invoke(cli, ["links"])
    assert result.exit_code == 2
    assert "bogus" in result.output


def test_sources_and_relative_archive_dir(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[archive]\ndir = "data"\n[[sources]]\nname = "blog"\nfeed = "https://a.example/feed"\n'
        '[[sources]]\npath = "articles/*.txt"\n',
    )
    config = load_config(path)
    assert config.archive.dir == tmp_path / "data"
    assert [s.kind for s in config.sources] == ["feed", "path"]
    assert config.sources[0].label == "blog"


def test_relative_source_paths_follow_the_config_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[sources]]\npath = "articles/*.md"\n[[sources]]\npath = "/srv/a.txt"\n')
    config = load_config(path)
    assert [s.path for s in config.sources] == [str(tmp_path / "articles/*.md"), "/srv/a.txt"]
