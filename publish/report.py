"""``scrapy report``: one self-contained HTML page about the archive (issue 13, section 3).

Sections: runs over time (requests, rows, failures, health, from the run manifests), articles per day per
edition, field coverage per run, the latest edits as side-by-side diffs, removals, near-duplicate clusters.

The page opens offline: styles are inline, charts are inline SVG drawn by ``publish.svg``, there is no script,
and a Content-Security-Policy forbids the browser to fetch anything (so even a link or an image URL that came
from the site cannot make it load something). Every text from the dataset is escaped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

import opencc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from pipelines.dataset.removals import REMOVED, RemovalEvent, read_events
from publish.markdown import BEIJING
from publish.source import open_dataset, open_root, read_manifests
from publish.svg import Series, heatmap, line_chart, stacked_bars, status_strip
from publish.textdiff import side_by_side

EDITION_COLOURS = {"gb": "#1f77b4", "b5": "#ff7f0e"}
OTHER_COLOUR = "#7f7f7f"
STATUS_COLOURS = {"ok": "#2ca02c", "failed": "#d62728", "interrupted": "#ff9900", "running": "#9e9e9e"}
REQUESTS_COLOUR, ROWS_COLOUR = "#1f77b4", "#2ca02c"
FETCH_FAILED_COLOUR, EXTRACTION_FAILED_COLOUR, DROPPED_COLOUR = "#d62728", "#9467bd", "#8c564b"
FALLBACK_COLOUR = "#e377c2"
LATEST_EDITS = 20
CLUSTERS_SHOWN = 30
RECENT_DAYS = 60
# Beyond this many days of articles, the whole-archive chart counts per month, and beyond 10 years per year.
DAILY_SPAN_DAYS = 92
MONTHLY_SPAN_DAYS = 3660
INDEX_COLUMNS = (
    "article_id",
    "version",
    "url",
    "edition",
    "title",
    "published_at",
    "crawled_at",
    "near_duplicate_of",
)
# Counters of pages given up on, next to their per-reason counters in pages_failed.
FETCH_FAILED_KINDS = ("lists", "articles")
# Drops that are the dedupe doing its job (the same text again), not failures.
EXPECTED_DROPS = frozenset({"duplicate", "duplicate_content"})
STYLE = """
body { font-family: sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
.note { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
table.diff td { width: 50%; white-space: pre-wrap; word-break: break-all; }
table.diff del { background: #ffd7d5; text-decoration: line-through; }
table.diff ins { background: #ccffd8; text-decoration: none; }
tr.folded td { color: #888; text-align: center; background: #fafafa; }
.edit { margin: 18px 0 28px; }
.cluster { margin: 10px 0; }
svg.chart { display: block; margin: 8px 0; }
"""
# gb and b5 captures of an article are compared in simplified script (as the dedupe compares them).
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
# No request of any kind: no script, no font, no image (charts are inline SVG), no frame, no form target.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    started_at: datetime | None
    status: str
    health_ok: bool | None
    requests: int
    rows: int
    fetch_failed: int
    extraction_failed: int
    fallback: int  # pages only the general extractor could read: the site's markup changed
    dropped: int
    coverage: Mapping[str, int]

    @property
    def label(self) -> str:
        return self.started_at.astimezone(UTC).strftime("%m-%d %H:%M") if self.started_at else self.run_id

    @property
    def health(self) -> str:
        if self.status in ("running", "interrupted"):
            return self.status
        return "ok" if self.health_ok and self.status == "finished" else "failed"


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _counts(document: Mapping[str, Any], key: str) -> dict[str, int]:
    value = document.get(key)
    return {str(k): _count(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def run_of(document: Mapping[str, Any]) -> Run:
    """A run's figures from its manifest; what a manifest lacks counts as zero."""
    health = document.get("health")
    pages_failed = _counts(document, "pages_failed")
    return Run(
        run_id=str(document.get("run_id", "?")),
        started_at=_moment(document.get("started_at")),
        status=str(document.get("status", "?")),
        health_ok=bool(health.get("ok")) if isinstance(health, dict) else None,
        requests=_count(document.get("requests")),
        rows=_count(document.get("items_written")),
        fetch_failed=sum(pages_failed.get(kind, 0) for kind in FETCH_FAILED_KINDS),
        extraction_failed=sum(_counts(document, "extraction_failures").values()),
        fallback=_count(document.get("articles_fallback")),
        dropped=sum(
            n for reason, n in _counts(document, "items_dropped").items() if reason not in EXPECTED_DROPS
        ),
        coverage=_counts(document, "coverage"),
    )


# --- sections -------------------------------------------------------------------------------------------


def runs_section(runs: Sequence[Run]) -> str:
    labels = [run.label for run in runs]
    parts = [
        "<h2>Runs over time</h2>",
        f'<p class="note">{len(runs)} runs from the manifests in <code>_runs/</code>; times in UTC.</p>',
        line_chart(
            "Requests and rows written per run",
            labels,
            [
                Series("requests", REQUESTS_COLOUR, [r.requests for r in runs]),
                Series("rows written", ROWS_COLOUR, [r.rows for r in runs]),
            ],
            chart_id="chart-runs",
        ),
        stacked_bars(
            "Failures per run",
            labels,
            [
                Series("pages given up (fetch)", FETCH_FAILED_COLOUR, [r.fetch_failed for r in runs]),
                Series("extraction failures", EXTRACTION_FAILED_COLOUR, [r.extraction_failed for r in runs]),
                Series("needed the general extractor", FALLBACK_COLOUR, [r.fallback for r in runs]),
                Series("invalid items dropped", DROPPED_COLOUR, [r.dropped for r in runs]),
            ],
            chart_id="chart-failures",
            height=220,
            all_zero="no failure in any run",
        ),
        status_strip(
            "Health of each run", labels, [r.health for r in runs], STATUS_COLOURS, chart_id="chart-health"
        ),
    ]
    return "".join(parts)


def coverage_section(runs: Sequence[Run]) -> str:
    """Share of each run's written rows with a value in each column: a parser going wrong is a pale cell."""
    with_rows = [r for r in runs if r.rows]
    fields = sorted({name for r in with_rows for name in r.coverage})
    values = [
        [min(1.0, r.coverage[name] / r.rows) if name in r.coverage else None for r in with_rows]
        for name in fields
    ]
    return (
        "<h2>Field coverage per run</h2>"
        '<p class="note">Share of the rows each run wrote that have a value in the column (darker is fuller). '
        "A column that turns pale from one run on usually means the site changed the markup it is read from.</p>"
        + heatmap(
            "Field coverage per run", fields, [r.label for r in with_rows], values, chart_id="chart-coverage"
        )
    )


def _bucket(day: date, unit: str) -> str:
    return {"day": day.isoformat(), "month": day.strftime("%Y-%m"), "year": str(day.year)}[unit]


def _edition_series(counts: Mapping[str, Counter[str]], labels: Sequence[str]) -> list[Series]:
    order = list(EDITION_COLOURS)
    editions = sorted(counts, key=lambda e: (order.index(e) if e in order else len(order), e))
    return [
        Series(
            edition, EDITION_COLOURS.get(edition, OTHER_COLOUR), [counts[edition][label] for label in labels]
        )
        for edition in editions
    ]


def per_day_section(latest: pa.Table) -> str:
    """Articles by publication day (Beijing time) per edition: the last weeks per day, the whole archive coarser."""
    days = [
        (edition or "?", moment.astimezone(BEIJING).date())
        for edition, moment in zip(
            latest.column("edition").to_pylist(), latest.column("published_at").to_pylist(), strict=True
        )
    ]
    parts = ["<h2>Articles per day per edition</h2>"]
    if not days:
        return parts[0] + '<p class="note">The dataset has no article yet.</p>'
    newest = max(day for _, day in days)
    oldest = min(day for _, day in days)
    recent = [newest - timedelta(days=n) for n in range(RECENT_DAYS - 1, -1, -1)]
    recent_labels = [d.isoformat() for d in recent]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for edition, day in days:
        counts[edition][day.isoformat()] += 1
    parts.append(
        f'<p class="note">Publication date in Beijing time, latest version of each article. Newest article: '
        f"{newest.isoformat()}.</p>"
    )
    parts.append(
        stacked_bars(
            f"Articles per day, the {RECENT_DAYS} days up to the newest article",
            recent_labels,
            _edition_series(counts, recent_labels),
            chart_id="chart-per-day",
        )
    )
    span = (newest - oldest).days
    unit = "day" if span <= DAILY_SPAN_DAYS else "month" if span <= MONTHLY_SPAN_DAYS else "year"
    coarse: dict[str, Counter[str]] = defaultdict(Counter)
    for edition, day in days:
        coarse[edition][_bucket(day, unit)] += 1
    labels = sorted({label for c in coarse.values() for label in c})
    parts.append(
        stacked_bars(
            f"Articles per {unit}, the whole archive ({oldest.isoformat()} to {newest.isoformat()})",
            labels,
            _edition_series(coarse, labels),
            chart_id="chart-per-period",
        )
    )
    return "".join(parts)


def _beijing(moment: datetime | None) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else ""


def _article_link(url: str, text: str) -> str:
    safe = url.startswith(("https://", "http://"))
    return f'<a href="{escape(url)}">{escape(text)}</a>' if safe else escape(text)


def edits_section(dataset: pads.Dataset, index: pa.Table) -> str:
    """The latest edits: for each recently re-captured article, its previous and latest versions side by side."""
    edited = index.filter(pc.greater(index.column("version"), 1)).sort_by([("crawled_at", "descending")])
    edited = edited.slice(0, LATEST_EDITS).to_pylist()
    parts = ["<h2>Latest edits</h2>"]
    if not edited:
        return parts[0] + '<p class="note">No article has changed since it was first archived.</p>'
    parts.append(
        f'<p class="note">The {len(edited)} most recently captured new versions, newest first: the version before '
        "on the left, the new one on the right, paragraph by paragraph and character by character "
        "(<del>removed</del>, <ins>added</ins>); unchanged paragraphs are folded.</p>"
    )
    wanted = {(row["article_id"], row["version"] - 1) for row in edited}
    texts = _texts(dataset, wanted | {(row["article_id"], row["version"]) for row in edited})
    for row in edited:
        key, previous = (row["article_id"], row["version"]), (row["article_id"], row["version"] - 1)
        if key not in texts or previous not in texts:
            continue
        old, new = texts[previous], texts[key]
        # The two captures may be of different editions (the first a run saw): compare them in one script,
        # or every character would look changed.
        folded = old.edition != new.edition
        old_label = f"version {row['version'] - 1} ({old.edition})"
        new_label = (
            f"version {row['version']} ({new.edition}), captured {_beijing(row['crawled_at'])} Beijing time"
        )
        note = (
            '<p class="note">The versions are of different editions: both shown in simplified script.</p>'
            if folded
            else ""
        )
        parts.append(
            '<div class="edit">'
            f"<h3>{_article_link(row['url'], new.title)} <small>({escape(row['article_id'])})</small></h3>{note}"
            + side_by_side(old.text(folded=folded), new.text(folded=folded), old_label, new_label)
            + "</div>"
        )
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Version:
    title: str
    body_text: str
    edition: str | None

    def text(self, *, folded: bool) -> str:
        text = f"{self.title}\n\n{self.body_text}"
        return str(_TO_SIMPLIFIED.convert(text)) if folded else text


def _texts(dataset: pads.Dataset, keys: set[tuple[str, int]]) -> dict[tuple[str, int], Version]:
    ids = pa.array(sorted({article_id for article_id, _ in keys}), pa.string())
    table = dataset.to_table(
        columns=["article_id", "version", "title", "body_text", "edition"],
        filter=pc.field("article_id").isin(ids),
    )
    return {
        (r["article_id"], r["version"]): Version(r["title"], r["body_text"], r["edition"])
        for r in table.to_pylist()
        if (r["article_id"], r["version"]) in keys
    }


def removals_section(events: Sequence[RemovalEvent], titles: Mapping[str, tuple[str, str]]) -> str:
    """Each article's latest removal event (removed, or reappeared after a removal), newest first."""
    parts = ["<h2>Removals</h2>"]
    if not events:
        return parts[0] + '<p class="note">No removal recorded: no archived article has been found gone.</p>'
    latest: dict[str, RemovalEvent] = {}
    for event in sorted(events, key=lambda e: e.detected_at):
        latest[event.article_id] = event
    rows = sorted(latest.values(), key=lambda e: e.detected_at, reverse=True)
    gone = sum(1 for e in rows if e.event == REMOVED)
    parts.append(
        f'<p class="note">{gone} article{"s" * (gone != 1)} gone now, {len(rows) - gone} back after a removal. '
        "Their last archived version stays in the dataset.</p>"
        "<table><thead><tr><th>article</th><th>state</th><th>reason</th><th>last seen</th><th>found gone / back</th>"
        "<th>last version</th></tr></thead><tbody>"
    )
    for e in rows:
        title, url = titles.get(e.article_id, (e.article_id, e.url))
        parts.append(
            f"<tr><td>{_article_link(url, title)} <small>{escape(e.article_id)}</small></td>"
            f"<td>{escape(e.event)}</td><td>{escape(e.reason or '')}</td>"
            f"<td>{_beijing(e.last_seen_at)}</td><td>{_beijing(e.detected_at)}</td>"
            f"<td>{e.last_version}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def clusters(links: Iterable[tuple[str, str]]) -> list[set[str]]:
    """Connected groups of article ids from (article, near duplicate of) pairs, largest first."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = defaultdict(set)
    for member in list(parent):
        groups[find(member)].add(member)
    return sorted(groups.values(), key=lambda g: (-len(g), sorted(g)))


def clusters_section(index: pa.Table, latest: pa.Table) -> str:
    """Articles linked by ``near_duplicate_of`` in any of their versions, shown by their latest version."""
    rows = {r["article_id"]: r for r in latest.to_pylist()}
    flagged = index.filter(pc.is_valid(index.column("near_duplicate_of")))
    pairs = set(
        zip(
            flagged.column("article_id").to_pylist(),
            flagged.column("near_duplicate_of").to_pylist(),
            strict=True,
        )
    )
    groups = clusters(sorted(pairs))
    parts = ["<h2>Near-duplicate clusters</h2>"]
    if not groups:
        return parts[0] + '<p class="note">No article is a near duplicate of another.</p>'
    parts.append(
        f'<p class="note">{len(groups)} cluster{"s" * (len(groups) != 1)} of articles with nearly the same text (<code>near_duplicate_of</code>), '
        f"largest first{f', the first {CLUSTERS_SHOWN} shown' if len(groups) > CLUSTERS_SHOWN else ''}.</p>"
    )
    for group in groups[:CLUSTERS_SHOWN]:
        members = sorted(
            group, key=lambda i: rows[i]["published_at"] if i in rows else datetime.min.replace(tzinfo=UTC)
        )
        items = "".join(
            f"<li>{_beijing(rows[i]['published_at'])} {escape(rows[i]['edition'] or '')} "
            f"{_article_link(rows[i]['url'], rows[i]['title'])} <small>{escape(i)}</small></li>"
            if i in rows
            else f"<li>{escape(i)} (not in the dataset)</li>"
            for i in members
        )
        parts.append(f'<div class="cluster"><b>{len(group)} articles</b><ul>{items}</ul></div>')
    return "".join(parts)


# --- the page -------------------------------------------------------------------------------------------


def latest_versions(index: pa.Table) -> pa.Table:
    """One row per article: its highest version."""
    if index.num_rows == 0:
        return index
    ordered = index.sort_by([("article_id", "ascending"), ("version", "descending")])
    ids = ordered.column("article_id")
    first = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    keep = pa.concat_arrays([pa.array([True]), *first.chunks]) if len(ids) > 1 else pa.array([True])
    return ordered.filter(keep)


def build_report(uri: str, now: datetime | None = None) -> str:
    """The whole HTML page for the dataset at ``uri``."""
    fs, root = open_root(uri)
    dataset = open_dataset(uri)
    index = dataset.to_table(columns=list(INDEX_COLUMNS))
    latest = latest_versions(index)
    runs = [run_of(document) for document in read_manifests(fs, root)]
    titles = {
        r["article_id"]: (r["title"], r["url"])
        for r in latest.select(["article_id", "title", "url"]).to_pylist()
    }
    generated = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (
        f"{latest.num_rows} articles, {index.num_rows} versions, {len(runs)} runs. Generated {generated} from "
        f"<code>{escape(uri)}</code>."
    )
    body = [
        "<h1>Epoch Times archive report</h1>",
        f'<p class="note">{summary}</p>',
        runs_section(runs),
        per_day_section(latest),
        coverage_section(runs),
        edits_section(dataset, index),
        removals_section(read_events(fs, root), titles),
        clusters_section(index, latest),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Epoch Times archive report</title><style>{STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
