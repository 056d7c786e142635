"""The one error type users see: a single line saying what is wrong and what to do."""

from __future__ import annotations


class AuthprobeError(Exception):
    """A failure caused by input or environment, reported as one line.

    ``log_path`` names the file holding the full output, when there is one.
    """

    def __init__(self, message: str, log_path: str | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path

    def one_line(self) -> str:
        text = " ".join(str(self).split())
        if self.log_path:
            text += f" (full log: {self.log_path})"
        return text


def error_line(err: BaseException, limit: int = 160) -> str:
    """An error caught while waiting, as the wait's last state: its type and the first
    ``limit`` characters of its message's first line."""
    text = str(err).splitlines()[0][:limit] if str(err) else ""
    return f"{type(err).__name__}: {text}"


class NotRunnable(AuthprobeError):
    """A scenario cannot run on this machine (for instance, no Dashboard image offline).

    The pytest plugin turns it into a skipped cell with this line as the reason.
    """
