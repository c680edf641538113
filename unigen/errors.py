"""The one exception type that reaches a CLI user as a one-line message."""


class UnigenError(Exception):
    """A user-facing error: the CLI prints ``error: <message>`` and exits with ``exit_code``.

    Use ``exit_code=2`` for bad usage (unknown option value, bad recipe key, wrong
    checkpoint family) and ``1`` for failures while doing the work (unreadable file).
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(UnigenError):
    """Bad input from the user: exit code 2."""

    exit_code = 2


class RecordError(UnigenError):
    """One bad record inside an otherwise readable file (a SMILES line, a CIF block, ...)."""

    def __init__(self, source: str, record: int | str, reason: str):
        self.source, self.record, self.reason = str(source), record, reason
        super().__init__(f"{source}: record {record}: {reason}")
