"""The stacked share chart as SVG, drawn on the server: no chart library, nothing fetched, readable without script.

Pure: buckets in, markup out. One `<path>` per country (unknown as its own grey band) carries
`data-country` and `data-points` (its number of buckets), so a browser test can count what was
drawn. Under the plot a strip marks each bucket's source: the bot's own polls or an archive. The
SVG scales with its `viewBox`, so a phone shows the whole chart; colours are presentation
attributes, which a strict Content-Security-Policy allows where inline styles are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup

from bot.domain.snapshot import UNKNOWN
from bot.web.buckets import LIVE, Resolution, ShareBucket, bucket_end

WIDTH, HEIGHT = 640, 356
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 300  # the plot's box; the source strip and dates go under it
FONT = 14  # in viewBox units: about 8.5 px on a 390 px phone, 17.5 px at the widest (50rem)
STRIP = 8
PALETTE = ("#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
UNKNOWN_COLOUR = "#a3a3a3"
LIVE_COLOUR = "#333333"
ARCHIVE_COLOUR = "#b0a47a"


def colour_of(countries: Sequence[str]) -> dict[str, str]:
    """Each country's colour, by its place in `countries` (the legend uses the same)."""
    known = [c for c in countries if c != UNKNOWN]
    colours = {country: PALETTE[i % len(PALETTE)] for i, country in enumerate(known)}
    if UNKNOWN in countries:
        colours[UNKNOWN] = UNKNOWN_COLOUR
    return colours


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * (i + 0.5) / n if n else 0)


def _y(percent: float) -> float:
    return BOTTOM - (BOTTOM - TOP) * min(max(percent, 0.0), 100.0) / 100


def slots_of(buckets: Sequence[ShareBucket], resolution: Resolution) -> list[date]:
    """Every bucket start from the first bucket to the last, those without snapshots included: the chart's
    x axis runs in time, so months an archive skipped show as a gap instead of joining their neighbours."""
    if not buckets:
        return []
    slots, start = [], buckets[0].start
    while start <= buckets[-1].start:
        slots.append(start)
        start = bucket_end(start, resolution)
    return slots


def share_chart(buckets: Sequence[ShareBucket], countries: Sequence[str], title: str,
                resolution: Resolution = "week") -> Markup:
    """The chart, or a short SVG saying there is nothing to draw.

    One band per country (a path with one stretch per run of buckets that have snapshots), stacked
    in `countries` order; a strip under it says where each bucket's snapshots came from.
    """
    parts: list[Markup] = [Markup(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img"'
        ' aria-labelledby="chart-title" preserveAspectRatio="xMidYMid meet">'
        '<title id="chart-title">{title}</title>').format(w=WIDTH, h=HEIGHT, title=title)]
    for percent in (0, 25, 50, 75, 100):
        y = _y(percent)
        parts.append(Markup('<line class="grid" x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                            '<text x="{tx}" y="{ty}" font-size="{fs}" text-anchor="end" fill="#555">{p}%</text>')
                     .format(fs=FONT, l=LEFT, r=WIDTH - RIGHT, y=y, tx=LEFT - 4, ty=y + 4, p=percent))
    if not buckets:
        parts.append(Markup('<text x="{x}" y="{y}" text-anchor="middle" font-size="{fs}">No snapshots in this'
                            ' range</text></svg>').format(fs=FONT, x=WIDTH / 2, y=(TOP + BOTTOM) / 2))
        return Markup("").join(parts)
    slots = slots_of(buckets, resolution)
    n = len(slots)
    slot = {start: i for i, start in enumerate(slots)}
    at = [slot[bucket.start] for bucket in buckets]  # each bucket's place on the time axis
    colours = colour_of(countries)
    below = [0.0] * len(buckets)
    half = (WIDTH - LEFT - RIGHT) / n / 2
    for country in countries:
        above = [below[i] + bucket.shares.get(country, 0.0) for i, bucket in enumerate(buckets)]
        stretches = []
        for run in _bucket_runs(at):
            # Steps, not slopes: each bucket is a flat stretch as wide as its time, so one bucket still shows.
            top_line = [f"{_x(at[i], n) - half:.1f},{_y(above[i]):.1f} {_x(at[i], n) + half:.1f},{_y(above[i]):.1f}"
                        for i in run]
            bottom_line = [f"{_x(at[i], n) + half:.1f},{_y(below[i]):.1f} {_x(at[i], n) - half:.1f},{_y(below[i]):.1f}"
                           for i in reversed(run)]
            stretches.append("M" + " L".join(top_line + bottom_line) + "Z")
        parts.append(Markup('<path class="band" data-country="{c}" data-points="{n}" fill="{fill}"'
                            ' d="{d}"><title>{name}</title></path>')
                     .format(c=country, n=len(buckets), fill=colours[country], d=" ".join(stretches),
                             name=country))
        below = above
    width = (WIDTH - LEFT - RIGHT) / n
    for i, bucket in enumerate(buckets):
        archived = [s for s in bucket.sources if s != LIVE]
        label = ", ".join(bucket.sources)
        parts.append(Markup('<rect class="source" data-source="{kind}" x="{x:.1f}" y="{y}" width="{w:.2f}"'
                            ' height="{h}" fill="{fill}"><title>{start}: {label}</title></rect>')
                     .format(kind="archive" if archived else LIVE, x=LEFT + at[i] * width, y=BOTTOM + 4,
                             w=width, h=STRIP, fill=ARCHIVE_COLOUR if archived else LIVE_COLOUR,
                             start=bucket.start.isoformat(), label=label))
    ticks = min(5, n)
    for k in range(ticks):
        i = round(k * (n - 1) / (ticks - 1)) if ticks > 1 else 0
        anchor = "start" if k == 0 and ticks > 1 else "end" if k == ticks - 1 and ticks > 1 else "middle"
        x = LEFT if anchor == "start" else WIDTH - RIGHT if anchor == "end" else _x(i, n)
        parts.append(Markup('<text x="{x:.1f}" y="{y}" font-size="{fs}" text-anchor="{a}" fill="#555">{d}</text>')
                     .format(fs=FONT, x=x, y=BOTTOM + STRIP + 20, a=anchor, d=slots[i].isoformat()))
    gap_note = ", blank = no snapshots" if n > len(buckets) else ""
    parts.append(Markup('<text x="{x}" y="{y}" font-size="{fs}" fill="#555">strip: dark = polled by the bot,'
                        ' sand = imported archive{gap}</text>').format(fs=FONT, x=LEFT, y=HEIGHT - 8, gap=gap_note))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _bucket_runs(at: Sequence[int]) -> list[list[int]]:
    """Bucket indices grouped by consecutive slots: buckets at slots [0, 1, 4] -> [[0, 1], [2]]."""
    runs: list[list[int]] = []
    for i, position in enumerate(at):
        if runs and position == at[runs[-1][-1]] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def swatch(colour: str) -> Markup:
    """A legend square as a tiny SVG (an inline style would break the page's CSP)."""
    return Markup('<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10"'
                  ' fill="{c}"/></svg>').format(c=colour)



def rank_chart(points: Sequence[tuple[str, int]], worst: int, title: str) -> Markup:
    """An item's best rank per day as one line (rank 1 at the top); `points` are (day, rank), oldest first."""
    n = len(points)
    bottom = max(worst, 1)
    parts: list[Markup] = [Markup(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img"'
        ' aria-labelledby="rank-title"><title id="rank-title">{title}</title>').format(w=WIDTH, h=BOTTOM + 40,
                                                                                     title=title)]

    def y(rank: int) -> float:
        return TOP + (BOTTOM - TOP) * (rank - 1) / max(bottom - 1, 1)

    for rank in sorted({1, max(1, bottom // 2), bottom}):
        parts.append(Markup('<line x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                            '<text x="{tx}" y="{ty:.1f}" font-size="{fs}" text-anchor="end" fill="#555">#{k}</text>')
                     .format(fs=FONT, l=LEFT, r=WIDTH - RIGHT, y=y(rank), tx=LEFT - 4, ty=y(rank) + 4, k=rank))
    if n:
        line = " ".join(f"{_x(i, n):.1f},{y(rank):.1f}" for i, (_, rank) in enumerate(points))
        parts.append(Markup('<polyline class="rank" data-points="{n}" fill="none" stroke="#1f77b4"'
                            ' stroke-width="2" points="{p}"/>').format(n=n, p=line))
        ticks = min(5, n)
        for k in range(ticks):
            i = round(k * (n - 1) / (ticks - 1)) if ticks > 1 else 0
            anchor = "start" if k == 0 and ticks > 1 else "end" if k == ticks - 1 and ticks > 1 else "middle"
            x = LEFT if anchor == "start" else WIDTH - RIGHT if anchor == "end" else _x(i, n)
            parts.append(Markup('<text x="{x:.1f}" y="{y}" font-size="{fs}" text-anchor="{a}" fill="#555">{d}'
                                '</text>').format(fs=FONT, x=x, y=BOTTOM + 24, a=anchor, d=points[i][0]))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
