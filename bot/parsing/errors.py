"""The single error type the grammar raises: a short, user-facing statement of the problem."""


def quoted(text: str, limit: int = 40) -> str:
    """A piece of the person's input, quoted and shortened for an error message."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class UsageError(Exception):
    """Bad input. `problem` is shown to the person with the command's usage and an example."""

    def __init__(self, problem: str, command: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.command = command  # the command whose usage to show; None: the dispatcher knows
