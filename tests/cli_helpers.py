"""What tests of refused command lines share."""

from __future__ import annotations


def error_line(result) -> str:
    """The one `Error:` line a refused command printed (exit 1, no traceback); progress bars
    drawn before the refusal may precede it."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]
