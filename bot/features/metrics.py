"""`metric` and `metrics`: record a FinOps KPI by hand and see each one's latest value and trend."""

from __future__ import annotations

from bot.commands import Request, command
from bot.message import Context, Header, Message, Outcome, Text
from bot.metric_text import DIRECTIONS_KEY, change_text, format_value, lower_is_better, trend_line
from bot.parsing import UsageError
from bot.parsing.reading import METRIC_NAME, Reading, parse_reading
from storage import audit, workspaces
from storage import metrics as store
from storage.models import Metric

POINTS = 8  # values in a sparkline
DIRECTIONS_MAX = 2000  # the setting's length


def _unit_name(unit: str) -> str:
    return f"'{unit}'" if unit else "no unit"


def checked_value(
    req: Request, reading: Reading, previous: Metric | None, *, bare_number_ok: bool = False
) -> Metric:
    """A new value of a metric, in the unit it already has: a different unit is refused, a
    different spelling is normalised (`usd` stays `USD`). `bare_number_ok`: a number without
    a unit (a form's number field) takes the metric's unit."""
    unit = reading.unit
    if previous is not None:
        if not unit and bare_number_ok:
            unit = previous.unit
        if previous.unit.lower() != unit.lower():
            raise UsageError(
                f"the metric {reading.name!r} is recorded with {_unit_name(previous.unit)}, not "
                f"{_unit_name(unit)}; use the same unit or another metric name"
            )
        unit = previous.unit
    return Metric(
        workspace_id=req.workspace_id,
        name=reading.name,
        value=reading.value,
        unit=unit,
        recorded_by=req.actor.user_id,
        recorded_at=req.now,
    )


async def set_direction(req: Request, name: str, direction: str) -> Outcome:
    await req.require_committee("set which way a metric should go")
    if not METRIC_NAME.fullmatch(name):
        raise UsageError(f"{name[:60]!r} is not a metric name")
    if direction not in ("lower", "higher"):
        raise UsageError("the direction is `lower` (lower is better) or `higher`")
    names = set(lower_is_better(req.config))
    names = names | {name} if direction == "lower" else names - {name}
    value = " ".join(sorted(names))
    if len(value) > DIRECTIONS_MAX:
        raise UsageError("too many lower-is-better metrics; set some back with `higher`")
    if value:
        await workspaces.set_setting(req.session, req.workspace_id, DIRECTIONS_KEY, value=value)
    else:
        await workspaces.unset_setting(req.session, req.workspace_id, DIRECTIONS_KEY)
    await audit.record(
        req.session,
        req.workspace_id,
        req.actor.user_id,
        action="metric.direction",
        subject=name,
        detail=direction,
    )
    if direction == "lower":
        return Outcome().reply(
            f"{name}: lower is better. The dashboard shows a fall in green, a rise in red."
        )
    return Outcome().reply(f"{name}: higher is better (the default). A rise shows in green.")


@command(
    "metric",
    summary="Record the latest value of a FinOps metric, such as coverage or allocation.",
    usage=("metric <name> <value>[%|unit]", "metric <name> direction lower|higher"),
    examples=("metric coverage 72%", "metric untagged-cost 1,234.5 USD", "metric latency 120 ms"),
    details=(
        "Names: lower-case letters, digits, '.', '_' and '-' (at most 50). Values: 72%, 1,234.5, "
        "3.2k, 1.5m (thousand, million), -3, 120 ms, 4500 USD. A unit is % or one word of at "
        "most 20 characters, and stays the same for a metric. Anyone can record; `metrics` shows "
        "the trends. `metric <name> direction lower` (committee members and admins) marks a "
        "metric where lower is better, such as unit cost or latency: the dashboard then shows "
        "a fall in green and a rise in red; `direction higher` sets it back (the default)."
    ),
)
async def metric(req: Request, args: str) -> Outcome:
    words = args.split()
    if len(words) == 3 and words[1].lower() == "direction":
        return await set_direction(req, words[0].lower(), words[2].lower())
    reading = parse_reading(args)
    previous = await store.latest(req.session, req.workspace_id, reading.name)
    value = checked_value(req, reading, previous)
    await store.record(req.session, value)
    unit = value.unit
    note = f"Recorded {reading.name}: {format_value(reading.value, unit)}"
    if previous is None:
        note += ", its first value. Record it again later to see a trend in `metrics`."
    else:
        on = previous.recorded_at.astimezone(req.tz).date().isoformat()
        change = change_text(reading.value - previous.value, unit)
        note += f" ({change} since {format_value(previous.value, unit)} on {on})."
    return Outcome().reply(note)


@command(
    "metrics",
    summary="Each metric's latest value, its change since the previous one, and a sparkline.",
    usage="metrics [name]",
    examples=("metrics", "metrics coverage"),
    details=f"Sparklines show up to the last {POINTS} values of each metric, oldest first.",
)
async def metrics(req: Request, args: str) -> Outcome:
    name = args.strip().lower() or None
    if name is not None and not METRIC_NAME.fullmatch(name):
        raise UsageError(f"{args.strip()[:60]!r} is not a metric name")
    series = await store.latest_series(req.session, req.workspace_id, POINTS, name=name)
    if not series:
        what = f"No values for {name} yet" if name else "No metrics yet"
        return Outcome().reply(f"{what}. Record one with `metric {name or 'coverage'} 72%`.")
    lines = [
        f"{trend_line(s)} · {s.latest_at.astimezone(req.tz).date().isoformat()}" for s in series
    ]
    hint = f"Latest value, change since the previous one, and the last {POINTS} values."
    return Outcome().reply(
        Message(
            text="Metrics\n" + "\n".join(lines),
            blocks=(Header("Metrics"), Text("\n".join(lines)), Context(hint)),
        )
    )
