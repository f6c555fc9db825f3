"""The result line: one JSON line, at most 4 KiB, secrets redacted, also in the termination file."""

from __future__ import annotations

import io
import json
import logging
import pathlib

import pytest

from backup_runner.report import MAX_LINE, Redactor, emit, failure, result_line

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_failure_line_shape() -> None:
    line = result_line(failure("backup", "BadCredentials", "fix the keys"), Redactor(()))
    assert "\n" not in line
    assert json.loads(line) == {
        "result": "Failed",
        "operation": "backup",
        "reason": "BadCredentials",
        "message": "fix the keys",
    }


def test_secret_is_redacted() -> None:
    line = result_line(
        failure("backup", "X", f"the key {SECRET} was rejected"), Redactor((SECRET,))
    )
    assert SECRET not in line
    assert "[redacted]" in line


def test_long_message_is_cut_to_fit() -> None:
    line = result_line(failure("restore", "StorageError", "x" * 10_000), Redactor(()))
    assert len(line.encode()) <= MAX_LINE
    assert json.loads(line)["message"].endswith("[...]")


def test_termination_file(tmp_path: pathlib.Path) -> None:
    out = io.StringIO()
    path = tmp_path / "termination-log"
    line = emit({"result": "Succeeded"}, Redactor(()), out, path)
    assert out.getvalue() == line + "\n"
    assert path.read_text() == line


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redactor((SECRET,)))
    logger.addHandler(handler)
    try:
        logger.warning("signing with %s", SECRET)
        try:
            raise ValueError(SECRET)
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue()
    assert stream.getvalue().count("[redacted]") == 2


@pytest.mark.parametrize("secret", ['quo"te\\back', "n\u00f6n-ascii-s\u00e9cret", "x" * 40])
def test_a_secret_never_reaches_the_line_escaped_or_cut(secret: str) -> None:
    """Redaction happens before JSON escaping and before the message is shortened."""
    redact = Redactor((secret,))
    message = "endpoint said: " + secret + " " + "y" * 5000
    line = result_line(failure("backup", "BadCredentials", message), redact)
    assert len(line.encode()) <= MAX_LINE
    assert secret not in line
    assert json.dumps(secret)[1:-1] not in line
    assert secret[:12] not in line
