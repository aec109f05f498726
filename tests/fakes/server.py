"""The lifecycle the fakes share: an aiohttp app served over real HTTP on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from aiohttp import web

T = TypeVar("T")


class LocalServer(ABC):
    """Serves `build_app()` on 127.0.0.1 at a port the OS picks: `async with Sub() as server:`.

    Subclasses call `super().__init__()`, provide `build_app`, and may extend `start` / `close`
    (e.g. to open and close a client session around the server's lifetime).
    """

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._changed = asyncio.Event()  # set by subclasses whenever they record something

    def state(self) -> str:
        """What the fake has seen so far, for a timeout message; subclasses say more."""
        return ""

    async def _wait(
        self, found: Callable[[], list[T]], count: int, seconds: float, what: str
    ) -> list[T]:
        """Wait (at most `seconds`) until `found()` returns at least `count` items."""
        try:
            async with asyncio.timeout(seconds):
                while len(result := found()) < count:
                    self._changed.clear()  # no await since the check, so no update is missed
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"waited {seconds}s for {what}; {self.state()}") from None
        return list(result)

    @abstractmethod
    def build_app(self) -> web.Application:
        """The app to serve; called once by each `start()`."""

    async def start(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash; an error before `start()`."""
        if not self._base:
            raise RuntimeError(
                f"{type(self).__name__} is not started: await start() or use `async with`"
            )
        return self._base

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
