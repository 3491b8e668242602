"""Exceptions that carry their exit code; the CLI converts them once.

Exit codes (the output contract CI relies on):
    0  every budget met
    1  internal error (a bug in edgekd or a library it drives)
    2  bad input or config: one line naming the problem and the fix
    3  a budget was missed (the report is still written)
  130  interrupted (Ctrl-C / SIGINT); a build continues with --resume
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_BUDGET_MISSED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


class EdgekdError(Exception):
    """Base class of every error edgekd raises on purpose."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and the fix on one line, as the CLI prints it."""
        text = " ".join(self.message.split())
        if self.fix:
            text += f" — fix: {' '.join(self.fix.split())}"
        return text

    def __str__(self) -> str:
        return self.one_line()


class BadInputError(EdgekdError):
    """The user's config, profile, model or data is wrong (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInputError):
    """A build config does not validate."""


class TargetError(BadInputError):
    """A device profile is unknown or invalid."""


class DataError(BadInputError):
    """A dataset cannot be read or does not match the model."""


class ModelFileError(BadInputError):
    """A teacher or model file cannot be loaded or does not fit the data."""


class OutputDirError(BadInputError):
    """The output folder cannot be used."""


class TrainingDivergedError(BadInputError):
    """The loss became NaN or infinite; a config problem, not an edgekd bug."""


class ConversionError(EdgekdError):
    """A converter could not produce one format (other formats may still succeed)."""

    def __init__(self, message: str, *, fmt: str, op: str | None = None, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.fmt = fmt
        self.op = op
