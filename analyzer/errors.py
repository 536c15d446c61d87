"""Errors a user can cause: each becomes one line on stderr and exit status 2."""


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why in one line."""


class CaptureFileError(UserError):
    """A capture file that cannot be read at all (missing, not a capture, unsupported)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
