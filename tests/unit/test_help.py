"""`--help` reads as written: argument help shown, no markup escapes, examples one per line
(a command's comment is never wrapped onto the next line), an example for every command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hardenreq.cli import _app_for, app

runner = CliRunner()
COMMANDS = ["harden", "verify", "refresh", "init", "pip-conf"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_plain_text_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=80)
    assert result.exit_code == 0
    text = result.stdout
    assert "\\[" not in text
    assert "Examples:" in text
    # The paragraph of examples: every line one whole command, none wrapped.
    paragraph = text.split("Examples:", 1)[1].strip().split("\n\n", 1)[0]
    commands = [line.strip() for line in paragraph.splitlines()]
    assert commands
    assert all(line.startswith("hardenreq ") for line in commands), commands


def test_arguments_have_their_help() -> None:
    text = runner.invoke(app, ["harden", "--help"], terminal_width=100).stdout
    assert "Sources to lock" in text
    assert "[required]" in text


def test_local_commands_do_not_talk_about_the_index() -> None:
    text = runner.invoke(app, ["init", "--help"], terminal_width=100).stdout
    assert "which index answered" not in text


@pytest.mark.parametrize("command", ["harden", "verify", "refresh", "convert", "init", "pip-conf"])
def test_the_console_script_builds_only_the_command_it_runs(command: str) -> None:
    # main() hands typer the one command the arguments name: its help (and so its options)
    # must be exactly the whole app's.
    single = _app_for([command, "--help"])
    assert single is not app
    assert [c.callback for c in single.registered_commands] == [
        c.callback
        for c in app.registered_commands
        if c.callback is not None and (c.name or c.callback.__name__.replace("_", "-")) == command
    ]
    whole = runner.invoke(app, [command, "--help"])
    alone = runner.invoke(single, [command, "--help"])
    assert alone.exit_code == whole.exit_code == 0
    assert alone.output == whole.output


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["verfy"], ["-h", "verify"]])
def test_anything_but_a_command_gets_the_whole_app(args: list[str]) -> None:
    assert _app_for(args) is app


def test_a_mistyped_command_is_suggested_once() -> None:
    result = runner.invoke(app, ["verfy"])
    assert result.exit_code == 2
    assert result.output.count("Did you mean 'verify'?") == 1
