"""`--help` reads as written: argument help shown, no markup escapes, examples one per line
(a command's comment is never wrapped onto the next line), an example for every command."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hardenreq.cli import app

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
