"""What many test files share: the fixture photos, the CLI run in-process, and the check that
an error is one line."""

from __future__ import annotations

from pathlib import Path

from mosaicgan.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`mosaicgan ARGV` in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments) -> None:
    """Exit status 2 and one line "mosaicgan: error: ..." holding every fragment, no traceback."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mosaicgan: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert str(fragment) in lines[0], lines[0]
