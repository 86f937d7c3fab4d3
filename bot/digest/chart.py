"""The country-share chart: who holds the trending top N over time, as a PNG.

matplotlib is imported inside the functions, so `python -m bot` starts without it, and
figures are built with the object API (`Figure` + Agg canvas, never pyplot). The running bot
never draws in its own process: `bot.digest.chart_worker` runs `python -m bot.digest.chart`, which reads one
JSON request on stdin and writes the PNG to stdout, so matplotlib's ~40 MiB never stay in the
bot's memory and drawing never holds its GIL. The CLI (`share --chart`, `digest --out`) may
draw in-process; the import stays lazy for it.
Sized for chat previews: 1200×675 px (16:9), large type, few colours.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.attribution.countries import country_name
from bot.digest.week import OTHER
from bot.domain.events import Digest, ShareChart
from bot.domain.messages import Image
from bot.domain.snapshot import UNKNOWN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 150
SIZE_PX = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))

# Stable colours for the usual leaders, so a reader recognises them week after week.
_COLOURS = {
    "CN": "#d62728", "US": "#1f77b4", "FR": "#9467bd", "KR": "#2ca02c", "JP": "#e377c2", "GB": "#17becf",
    "DE": "#bcbd22", "CA": "#8c564b", "AE": "#ff7f0e", "IL": "#7f7f7f",
}
_SPARE = ("#ff7f0e", "#2ca02c", "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#9467bd")
_OTHER_COLOUR, _UNKNOWN_COLOUR = "#b0b0b0", "#e2e2e2"


def series_label(code: str) -> str:
    if code == OTHER:
        return "Other"
    if code == UNKNOWN:
        return "Unknown origin"
    return country_name(code)


def _colours(codes: tuple[str, ...]) -> list[str]:
    spare = iter(c for c in _SPARE if c not in {_COLOURS.get(code) for code in codes})
    result = []
    for code in codes:
        if code == OTHER:
            result.append(_OTHER_COLOUR)
        elif code == UNKNOWN:
            result.append(_UNKNOWN_COLOUR)
        else:
            result.append(_COLOURS.get(code) or next(spare, "#555555"))
    return result


def build_share_figure(
    chart: ShareChart, title: str, span: tuple[datetime, datetime] | None = None, tz: tzinfo | None = None
) -> Figure:
    """A stacked area of each country's share of the top N; hatched bands where there is no data.

    `span` fixes the x axis (a digest shows its whole week even when the data stops early);
    `tz` labels the days on the reader's calendar (the digest's zone), UTC by default.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    def num(moment: datetime) -> float:
        return float(date2num(moment))  # type: ignore[no-untyped-call]

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    fig.suptitle(title, fontsize=14, fontweight="bold", x=0.01, ha="left")
    ax = fig.add_subplot()
    labels = [series_label(code) for code in chart.countries]
    if chart.times:
        x = [num(t) for t in chart.times]
        right = span[1] if span else chart.times[-1]
        # Repeat the last column at the right edge so the last step is drawn, not a zero-width sliver.
        x.append(num(right))
        ys = [[*row, row[-1]] for row in chart.shares]
        ax.stackplot(x, ys, labels=labels, colors=_colours(chart.countries), step="post", linewidth=0)
        left = span[0] if span else chart.times[0]
        ax.set_xlim(num(left), num(right))
    for gap in chart.gaps:
        ax.axvspan(num(gap.start), num(gap.end), facecolor="white", edgecolor="#666666",
                   hatch="//", linewidth=0, zorder=3)
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the top list (%)", fontsize=12)
    locator = AutoDateLocator(tz=tz, minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz))  # type: ignore[no-untyped-call]
    ax.tick_params(labelsize=11)
    ax.grid(axis="y", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    if chart.gaps:
        handles.append(Patch(facecolor="white", edgecolor="#666666", hatch="//", label="no data"))
        names.append("no data")
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4), fontsize=11, frameon=False)
    return fig


def render_png(fig: Figure) -> bytes:
    """PNG bytes at the figure's own size (no tight bbox: chat previews expect a fixed shape)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def digest_title(digest: Digest) -> str:
    """'Trending top 10 by country, 21 Jul – 27 Jul 2025 (2025-W30)', in the digest's own time zone."""
    tz = ZoneInfo(digest.timezone)
    first = digest.start.astimezone(tz)
    last = digest.end.astimezone(tz) - timedelta(days=1)
    return f"Trending top {digest.top_n} by country, {first:%d %b} – {last:%d %b %Y} ({digest.week})"


def digest_image(digest: Digest) -> Image | None:
    """The digest's chart as an attachment; CPU-bound: the bot calls `chart_worker.digest_image`."""
    if digest.chart is None or not digest.chart.times:
        return None
    title = digest_title(digest)
    png = render_png(build_share_figure(digest.chart, title, (digest.start, digest.end), ZoneInfo(digest.timezone)))
    return Image(filename=f"trendwatch-{digest.week}.png", data=png, description=title)


def draw_request(request: dict[str, object]) -> bytes:
    """PNG of one request as `bot.digest.chart_worker` sends it: chart, title, optional span and time zone."""
    chart = ShareChart.model_validate(request["chart"])
    span_raw = request.get("span")
    span = None
    if isinstance(span_raw, list) and len(span_raw) == 2:
        span = (datetime.fromisoformat(str(span_raw[0])), datetime.fromisoformat(str(span_raw[1])))
    tz = ZoneInfo(str(request["timezone"])) if request.get("timezone") else None
    return render_png(build_share_figure(chart, str(request["title"]), span, tz))


def main() -> int:
    """`python -m bot.digest.chart`: one JSON request on stdin, the PNG on stdout; a failure is one line on stderr."""
    try:
        png = draw_request(json.loads(sys.stdin.buffer.read()))
    except Exception as exc:  # the worker's whole job: any failure becomes one line for the bot's log
        print(f"chart: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(png)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
