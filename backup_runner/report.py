"""The result line (`docs/contracts.md`, "Result line"); the guard keeping secrets out of output.

One JSON object on one line goes to stdout and to the termination-message file, where Kubernetes
shows it in the pod's status and the hooks read it back. The file holds at most 4 KiB, so a long
message is shortened to fit. `BACKUP_TERMINATION_MESSAGE_PATH` unset means Kubernetes' default
`/dev/termination-log`, written only when it exists (in a pod it always does; on a laptop it would
be a stray file in /dev).

`Redactor` replaces the repo's key values wherever they might appear; it is applied to the result
line and, as a logging filter, to every log record. Nothing is expected to contain a key; this is
the second line of defence, and the tests check both.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO

__all__ = ["DEFAULT_TERMINATION_PATH", "MAX_LINE", "Redactor", "emit", "failure", "result_line"]

DEFAULT_TERMINATION_PATH = Path("/dev/termination-log")
MAX_LINE = 4096
_REDACTED = "[redacted]"

log = logging.getLogger(__name__)


class Redactor(logging.Filter):
    """Replaces secret values in text; as a logging filter, in every record's final message."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
                record.exc_text = None
            record.msg, record.args = self(message), None
        return True


def failure(operation: str, reason: str, message: str, **extra: object) -> dict[str, object]:
    return {
        "result": "Failed",
        "operation": operation,
        "reason": reason,
        "message": message,
        **extra,
    }


def _redacted(value: object, redact: Redactor) -> object:
    """Every string in the result redacted, before it is serialised: JSON escaping (quotes,
    backslashes, non-ASCII) or shortening would otherwise hide a secret from the redactor."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, redact) for item in value]
    return value


def result_line(result: dict[str, object], redact: Redactor) -> str:
    clean = _redacted(result, redact)
    assert isinstance(clean, dict)
    line = json.dumps(clean, separators=(", ", ": "))
    if len(line.encode()) <= MAX_LINE:
        return line
    # Too long for the termination message: shorten the message, which is the only free text.
    message = str(clean.get("message", ""))
    overflow = len(line.encode()) - MAX_LINE + len(" [...]") + 16
    shortened = {**clean, "message": message[: max(0, len(message) - overflow)] + " [...]"}
    return json.dumps(shortened, separators=(", ", ": "))[:MAX_LINE]


def emit(
    result: dict[str, object], redact: Redactor, stdout: IO[str], termination_path: Path | None
) -> str:
    line = result_line(result, redact)
    stdout.write(line + "\n")
    stdout.flush()
    path = termination_path
    if path is None and DEFAULT_TERMINATION_PATH.exists():
        path = DEFAULT_TERMINATION_PATH
    if path is not None:
        try:
            path.write_text(line)
        except OSError as error:
            log.warning("cannot write the termination message to %s: %s", path, error)
    return line
