"""The command line as a user meets it: help for every command, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli

COMMANDS = ["collect", "snapshot", "check", "sweep", "report", "diff", "links", "schedule", "export"]


def test_every_command_of_the_spec_exists() -> None:
    assert set(COMMANDS) <= set(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "archiver" in result.output and ("Example" in result.output or "cron" in result.output)


def test_unknown_state_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["links", "--state", "gone"])
    assert result.exit_code == 2
    assert "--state" in result.output


def test_bad_fail_on_state_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "a"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "check", "--fail-on", "dead,rotten"])
    assert result.exit_code == 2
    assert "rotten" in result.output


def test_reading_an_empty_archive_says_so(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "nothing-here"\n')
    for args in (["links"], ["report"], ["diff", "https://example.com/"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert result.exit_code == 1
        assert "no archive here yet" in result.output


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "links"])
    assert result.exit_code == 2
    assert "nope.toml: no such file" in result.output
