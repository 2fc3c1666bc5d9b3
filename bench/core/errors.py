"""The one base class for problems the user must fix.

Anything raised as a `UserError` is shown as one line (`qnnbench: error: ...`) with exit
code 2 and records nothing; every other exception during a run becomes a failed record.
"""

from __future__ import annotations


class UserError(Exception):
    """Invalid input or a missing resource the user has to provide."""


class SpecError(UserError, ValueError):
    """A run or sweep specification that does not validate."""


class DatasetError(UserError):
    """One-line, user-facing message: what was wrong and how to fix it.

    Whitespace (including newlines coming from wrapped OS or network errors) is collapsed, so
    the message is guaranteed to be a single line.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class WriteError(UserError):
    """A file of the results directory could not be written (disk full, a read-only
    filesystem, a directory in the file's place): the user has to make room or choose
    another directory, and whatever is already in the directory is kept."""

    @classmethod
    def of(cls, path: object, err: OSError) -> WriteError:
        """One line naming the file and the operating system's reason."""
        return cls(f"cannot write {path} ({err.strerror or err})")


class NothingToReport(UserError):
    """A report or collection asked of a results directory that holds no records (exit 1:
    nothing is wrong with the command, there is just nothing to show yet)."""
