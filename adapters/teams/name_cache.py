"""The cache of people's and channels' names on Teams, whatever the SDK: see
adapters/teams/names.py for why it exists and how names are asked of Teams."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

FALLBACK = "newcomer"
GENERAL = "General"  # the team's first channel, which Teams lists without a name
TTL_SECONDS = 6 * 3600  # people rename themselves rarely; a day-old name is still fine
MAX_ENTRIES = 10_000
LOOKUP_SECONDS = 5.0


class NameCache:
    """Display names per tenant and id (`channel:<id>` for channels), for a while, bounded."""

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._names: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def remember(self, tenant: str, member_id: str, name: str) -> None:
        if not member_id or not name or name == member_id:
            return
        key = (tenant, member_id)
        self._names[key] = (self.clock() + self.ttl, name)
        self._names.move_to_end(key)
        while len(self._names) > self.max_entries:
            self._names.popitem(last=False)

    def cached(self, tenant: str, member_id: str) -> str | None:
        found = self._names.get((tenant, member_id))
        if found is None or found[0] < self.clock():
            return None
        return found[1]
