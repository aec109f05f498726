"""The single error type the grammar raises: a short, user-facing statement of the problem."""


class UsageError(Exception):
    """Bad input. `problem` is shown to the person with the command's usage and an example."""

    def __init__(self, problem: str, command: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.command = command  # the command whose usage to show; None: the dispatcher knows
