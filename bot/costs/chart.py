"""The weekly digest's chart: a PNG of the last weeks' effective cost and savings, and the text
sparkline that stands in for it wherever a picture cannot be shown.

The PNG is drawn with matplotlib's object-oriented API on the Agg canvas, never `pyplot`
(global state, not thread-safe), and imported only when a chart is drawn (it is slow to
import). The output is deterministic for the same input: no timestamps or version in the file,
a fixed palette, and month names that do not depend on the process locale.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 3.6, 100  # 800 × 360 px
COST_COLOUR, SAVINGS_COLOUR, INK, GRID = "#4a7ab5", "#d9822b", "#333333", "#dddddd"
PALETTE_COLOURS = 64  # the picture uses a handful of colours plus anti-aliasing shades
SCALE_RATIO = 3.0  # series whose peaks differ more than this get their own axes
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_token() -> str:
    """A random, unguessable name for a stored chart (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def week_label(day: date) -> str:
    """`09 Sep`, in English whatever the locale (strftime's %b follows LC_TIME)."""
    return f"{day.day:02d} {_MONTHS[day.month - 1]}"


def _compact(value: float, _position: object = None) -> str:
    """Axis numbers: 950, 12.5k, 3.2M."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if value else "0"


def render_png(
    weeks: Sequence[date],
    cost: Sequence[Decimal],
    savings: Sequence[Decimal],
    *,
    currency: str,
) -> bytes:
    """The chart (see `draw`) as an 800 × 360 px PNG, the same bytes for the same input."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(draw(weeks, cost, savings, currency=currency))
    canvas.draw()
    # Few colours compress well: a 64-colour palette PNG is under a third of the RGBA one.
    width, height = canvas.get_width_height()
    picture = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    paletted = picture.convert("RGB").quantize(
        colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    paletted.save(out, format="PNG", optimize=True)  # Pillow writes no time or software chunk
    return out.getvalue()


def draw(
    weeks: Sequence[date],
    cost: Sequence[Decimal],
    savings: Sequence[Decimal],
    *,
    currency: str,
) -> Figure:
    """Bars of each week's effective cost and a line of the annualised savings of the wins
    logged that week. Savings get a second axis when their scale differs from the cost's, so
    neither series is flattened. Decimals become floats only to be drawn."""
    if not len(weeks) == len(cost) == len(savings):
        raise ValueError("weeks, cost and savings must have the same length")
    # Imported here: matplotlib takes ~0.4 s to import, and only a digest needs it.
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    costs = [float(v) for v in cost]
    saved = [float(v) for v in savings]
    positions = list(range(len(weeks)))
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    axes = figure.add_subplot()
    axes.set_title(f"Last {len(weeks)} weeks", color=INK, fontsize=12, loc="left")
    bars = axes.bar(
        positions, costs, color=COST_COLOUR, width=0.65, label=f"Effective cost ({currency})"
    )
    axes.set_xticks(positions, [week_label(w) for w in weeks], fontsize=8, color=INK)
    axes.tick_params(axis="y", labelsize=8, colors=INK)
    axes.yaxis.set_major_formatter(FuncFormatter(_compact))
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    line_axes = axes
    peak_cost, peak_saved = max(costs, default=0.0), max(saved, default=0.0)
    if (
        peak_cost > 0
        and peak_saved > 0
        and not (1 / SCALE_RATIO <= peak_saved / peak_cost <= SCALE_RATIO)
    ):
        axes.set_ylabel(f"Effective cost ({currency})", color=COST_COLOUR, fontsize=9)
        line_axes = axes.twinx()
        line_axes.set_ylabel(f"Annualised savings ({currency})", color=SAVINGS_COLOUR, fontsize=9)
        line_axes.tick_params(axis="y", labelsize=8, colors=SAVINGS_COLOUR)
        line_axes.yaxis.set_major_formatter(FuncFormatter(_compact))
        line_axes.spines["top"].set_visible(False)
    else:
        axes.set_ylabel(f"Amount ({currency})", color=INK, fontsize=9)
    (line,) = line_axes.plot(
        positions,
        saved,
        color=SAVINGS_COLOUR,
        linewidth=2,
        marker="o",
        markersize=4,
        label=f"Wins' annualised savings ({currency})",
    )
    for scale in dict.fromkeys((axes, line_axes)):  # after plotting: set_ylim ends autoscaling
        scale.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        scale.set_ylim(bottom=0, top=max(scale.get_ylim()[1], 1.0))
    # Above the plot, beside the title: it never hides a bar or a point.
    axes.legend(
        handles=[bars, line],
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    figure.tight_layout()
    return figure
