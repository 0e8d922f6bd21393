"""The one exception the build helpers raise for anything the user has to fix."""

from __future__ import annotations


class BuildError(Exception):
    """A problem the user can fix; its message is one line saying what to set where.

    build.py prints the message on stderr and exits with code 1; nothing is printed as a traceback.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        # Keep the promise of one line, whatever the API put in its message.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)
