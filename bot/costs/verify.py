"""Did a win's savings reach the bill? The measurement, from a scope's daily effective cost.

The method (also in `help win` and the README):
- **Baseline**: the scope's mean daily effective cost over the 30 days before the win's day
  (the day it was logged, or the start it gives), the win's own day left out of both sides.
- **After**: the mean over 30 days ending 30, 60 or 90 days after it (days 1-30, 31-60,
  61-90). A checkpoint waits until imported data covers its last day (exports lag).
- **Realised monthly savings** = (baseline mean - after mean) x 30.4, in the data's currency.
- **Band**: 1.96 standard errors of that difference, from the baseline's day-to-day
  variation (the after days are assumed to vary as much), so 95 % of the time noise alone
  stays inside it. A realised figure inside its band is "not seen in the bill".
- A day inside the data's span with no cost in the scope counts as zero: a service switched
  off costs nothing. Growth in usage elsewhere in the scope hides savings; the check cannot
  tell the two apart, so it says so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

DAYS = 30  # each window's length
CHECKPOINTS = (30, 60, 90)  # days after the win a check looks at
DAYS_PER_MONTH = Decimal("30.4")
Z95 = Decimal("1.96")
MIN_BASELINE_DAYS = 14  # fewer days with cost in the scope before the win: no baseline


class Verdict(Enum):
    SEEN = "seen"  # realised savings above the band
    NOT_SEEN = "not seen"  # inside the band (or cost rose)
    WAITING = "waiting"  # the data does not cover the checkpoint yet
    NO_BASELINE = "no baseline"  # too few days with cost in the scope before the win


@dataclass(frozen=True, slots=True)
class Window:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> tuple[date, ...]:
        return _dates(self.first, self.days)


@functools.lru_cache(maxsize=8192)  # each win's windows are read several times
def _dates(first: date, days: int) -> tuple[date, ...]:
    return tuple(first + timedelta(days=i) for i in range(days))


def baseline_window(win_day: date) -> Window:
    return Window(win_day - timedelta(days=DAYS), win_day - timedelta(days=1))


def after_window(win_day: date, checkpoint: int) -> Window:
    return Window(
        win_day + timedelta(days=checkpoint - DAYS + 1), win_day + timedelta(days=checkpoint)
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    checkpoint: int
    verdict: Verdict
    baseline: Window
    after: Window
    baseline_days: int = 0  # days of data in the baseline
    baseline_mean: Decimal = Decimal(0)  # per day, in the data's currency
    after_mean: Decimal = Decimal(0)
    realised_monthly: Decimal = Decimal(0)
    band: Decimal = Decimal(0)  # ± around realised_monthly


def measure(
    daily: Mapping[date, int | Decimal],
    span: tuple[date, date],
    win_day: date,
    *,
    checkpoint: int,
    scale: int = 1,
) -> Measurement:
    """The check at `checkpoint` days after `win_day`, from the scope's daily effective cost
    (`daily`, days without cost absent; in 1/`scale` of the currency's unit, e.g. billionths
    with `scale` 10^9) and the days the data covers (`span`, inclusive). Sums are exact (the
    means and the realised figure are exact fractions, then decimals); only the band, an
    estimate, is computed in floating point."""
    before, after = baseline_window(win_day), after_window(win_day, checkpoint)
    if span[1] < after.last:
        return Measurement(checkpoint, Verdict.WAITING, before, after)
    covered = [d for d in before.dates() if span[0] <= d <= span[1]]
    costed = sum(1 for d in covered if daily.get(d))
    if costed < MIN_BASELINE_DAYS:  # e.g. a resource whose cost is kept only from lately on
        return Measurement(checkpoint, Verdict.NO_BASELINE, before, after, costed)
    base = [daily.get(d, 0) for d in covered]
    later = [daily.get(d, 0) for d in after.dates()]
    unit = Decimal(scale)
    base_mean = Decimal(sum(base)) / len(base) / unit
    after_mean = Decimal(sum(later)) / len(later) / unit
    realised = (base_mean - after_mean) * DAYS_PER_MONTH
    spread = Decimal(_stdev([float(v) for v in base])) / unit
    band = Z95 * spread * Decimal(math.sqrt(1 / len(base) + 1 / len(later))) * DAYS_PER_MONTH
    verdict = Verdict.SEEN if realised > band else Verdict.NOT_SEEN
    return Measurement(
        checkpoint,
        verdict,
        before,
        after,
        len(base),
        base_mean,
        after_mean,
        realised,
        band,
    )


def due_checkpoints(win_day: date, last_data_day: date) -> list[int]:
    """The checkpoints the data now covers."""
    return [c for c in CHECKPOINTS if after_window(win_day, c).last <= last_data_day]


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
