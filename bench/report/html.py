"""The self-contained HTML report: one file, figures inlined as base64 PNG, no external assets.

Built from the collected DataFrame and the tables/figures of `bench.report`; it also lists
the run configuration and the tool versions the records carry. A few lines of inline
JavaScript record, after the page has loaded, how many images decoded (attributes
`data-images-total` / `data-images-loaded` on <body>, `data-natural-width` on each image),
so a headless browser can check that the figures really render.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.collect import outcome_counts
from bench.report.figures import FigureResult
from bench.report.table_model import Table, bits_text, clock_text

CSS = """
:root { --fg: #1d1d1f; --muted: #666; --line: #d8d8de; --accent: #2b5fab; --bg-alt: #f5f6f8; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Helvetica, Arial,
       sans-serif; color: var(--fg); margin: 0; line-height: 1.45; font-size: 15px; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 36px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--accent); }
h3 { font-size: 1.05em; margin: 24px 0 8px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0 4px; }
.card { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px;
        padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 1.4em; }
.card.bad b { color: #b00020; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 6px 0 4px; font-size: 0.92em; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--bg-alt); text-align: left; border-bottom: 2px solid #aaa; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.group-start td { border-top: 1.5px solid #999; }
td.wrap { white-space: normal; max-width: 560px; }
.table-wrap { overflow-x: auto; }
.note { color: var(--muted); font-size: 0.88em; margin: 2px 0 10px; }
.empty { color: var(--muted); font-style: italic; }
figure { margin: 18px 0 28px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: #333; font-size: 0.92em; max-width: 900px; margin-top: 6px; }
.mixed, td.bad { color: #b00020; font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85em; }
"""

LOAD_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img");
  var loaded = 0;
  images.forEach(function (img) {
    img.setAttribute("data-natural-width", String(img.naturalWidth));
    if (img.complete && img.naturalWidth > 0) { loaded += 1; }
  });
  document.body.setAttribute("data-images-total", String(images.length));
  document.body.setAttribute("data-images-loaded", String(loaded));
});
"""

# Run settings listed in the configuration section: column → label.
CONFIG_FIELDS = [
    ("model", "model"), ("dataset", "data set"), ("weight_quant", "weight quantizer"),
    ("bits_label", "bit widths (W/A)"), ("input_bits", "input bits"), ("input_size", "input frame"),
    ("epochs", "epochs"),
    ("batch_size", "batch size"), ("lr", "learning rate"), ("seed", "seeds"),
    ("folding_strategy", "folding strategy"), ("folding_label", "foldings"),
    ("device", "board"), ("part", "part"), ("clk_ns", "clock"),
]


def _is_bad(header: str, cell: str) -> bool:
    """Cells worth flagging: designs that do not fit, utilization above 100 %."""
    if header == "fits":
        return cell == "no"
    if header.endswith("(%)") and header != "accuracy (%)":
        try:
            return float(cell.replace(",", "")) > 100.0
        except ValueError:
            return cell == "∞"
    return False


def table_to_html(table: Table) -> str:
    """A table as HTML: title heading, header row, right-aligned numbers, group rules."""
    parts = [f'<h3 id="table-{escape(table.key)}">{escape(table.title)}</h3>']
    if table.empty:
        parts.append(f'<p class="empty">{escape(table.note or "no data")}</p>')
        return "\n".join(parts)
    align = table.align or ["l"] * len(table.header)
    parts.append(f'<div class="table-wrap"><table data-table="{escape(table.key)}">')
    parts.append("<thead><tr>" + "".join(
        f'<th class="{a}">{escape(h)}</th>' for h, a in zip(table.header, align, strict=True)
    ) + "</tr></thead><tbody>")
    for i, row in enumerate(table.rows):
        cls = ' class="group-start"' if i in table.group_starts and i > 0 else ""
        cells = "".join(
            f'<td class="{a}{" wrap" if h == "error" else ""}'
            f'{" bad" if _is_bad(h, c) else ""}">{escape(c)}</td>'
            for c, a, h in zip(row, align, table.header, strict=True)
        )
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append("</tbody></table></div>")
    if table.note:
        parts.append(f'<p class="note">{escape(table.note)}</p>')
    return "\n".join(parts)


def _distinct(series: pd.Series) -> list[Any]:
    values = series.dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _config_rows(df: pd.DataFrame) -> list[tuple[str, str]]:
    rows = []
    for col, label in CONFIG_FIELDS:
        if col not in df.columns:
            continue
        values = _distinct(df[col])
        if not values:
            continue
        if col == "clk_ns":
            text = ", ".join(f"{v:g} ns ({clock_text(v)})" for v in values)
        elif col == "bits_label":
            order = df.drop_duplicates("bits_label").dropna(subset=["weight_bits", "act_bits"])
            order = order.sort_values(["weight_bits", "act_bits"])
            text = ", ".join(order["bits_label"].astype(str)) or ", ".join(map(str, values))
        elif col == "folding_label":
            par = pd.to_numeric(df["parallelism"], errors="coerce").astype(float)
            med = par.groupby(df["folding_label"]).median()
            text = ", ".join(sorted(map(str, values), key=lambda v: (med.get(v, 0), v)))
        else:
            text = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
        rows.append((label, text))
    return rows


def _versions_rows(df: pd.DataFrame) -> list[tuple[str, str, bool]]:
    rows = []
    for col in sorted(c for c in df.columns if c.startswith("version_")):
        counts = df[col].dropna().astype(str).value_counts()
        if counts.empty:
            continue
        if len(counts) == 1:
            rows.append((col.removeprefix("version_"), counts.index[0], False))
        else:
            text = ", ".join(f"{v} ({n} runs)" for v, n in counts.items())
            rows.append((col.removeprefix("version_"), text, True))
    return rows


def _figure_html(fig: FigureResult) -> str:
    head = f'<h3 id="figure-{escape(fig.key)}">{escape(fig.title)}</h3>'
    if not fig.made:
        return f'{head}\n<p class="empty">Figure skipped: {escape(fig.note)}</p>'
    png = fig.png.read_bytes()
    data = base64.b64encode(png).decode("ascii")
    # Show the figure at its size in inches (96 CSS px per inch), not one pixel per pixel.
    width = round(int.from_bytes(png[16:20], "big") * 96 / fig.dpi)
    return (
        f'{head}\n<figure data-figure="{escape(fig.key)}">'
        f'<img src="data:image/png;base64,{data}" alt="{escape(fig.title)}" '
        f'style="width: {width}px">'
        f"<figcaption>{escape(fig.caption)}</figcaption></figure>"
    )


def _kv_table(rows: list[tuple[str, str]], key: str, mixed: set[str] | None = None) -> str:
    mixed = mixed or set()
    body = "".join(
        f'<tr><th>{escape(k)}</th><td class="wrap{" mixed" if k in mixed else ""}">'
        f"{escape(v)}</td></tr>"
        for k, v in rows
    )
    return f'<div class="table-wrap"><table data-table="{key}"><tbody>{body}</tbody></table></div>'


def render_html(
    df: pd.DataFrame,
    tables: list[Table],
    figures: list[FigureResult],
    title: str = "qnn-bench report",
    generated_at: str | None = None,
) -> str:
    """The whole report as one HTML string."""
    generated_at = generated_at or datetime.now(UTC).isoformat(timespec="seconds")
    n = len(df)
    outcomes = outcome_counts(df)
    n_ok, n_na, n_failed = outcomes["ok"], outcomes["not_applicable"], outcomes["failed"]
    span = ""
    if n and "created_at" in df.columns and df["created_at"].notna().any():
        created = df["created_at"].dropna().astype(str)
        span = f" · runs from {created.min()} to {created.max()}"
    cards = [("records", str(n), False), ("successful", str(n_ok), False)]
    if n_na:  # foldings that cannot exist at this geometry: by design, not a fault
        cards.append(("not applicable", str(n_na), False))
    cards.append(("failed", str(n_failed), n_failed > 0))
    if n_ok and "accuracy" in df.columns and df["accuracy"].notna().any():
        best = df.loc[df["accuracy"].idxmax()]
        cards.append((f"best accuracy ({bits_text(best.weight_bits, best.act_bits)})",
                      f"{100 * best.accuracy:.2f} %", False))
    fitting = df[df["fits"].fillna(False).astype(bool)] if "fits" in df.columns else df
    if n_ok and "est_fps" in fitting.columns and fitting["est_fps"].notna().any():
        fastest = fitting.loc[fitting["est_fps"].idxmax()]
        cards.append((f"max FPS that fits ({bits_text(fastest.weight_bits, fastest.act_bits)} "
                      f"{fastest.folding_label})", f"{fastest.est_fps:,.0f}", False))
    summary = "".join(
        f'<div class="card{" bad" if bad else ""}"><span>{escape(k)}</span><b>{escape(v)}</b>'
        f"</div>" for k, v, bad in cards
    )
    versions = _versions_rows(df)
    config = _config_rows(df)
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">generated {escape(generated_at)}{escape(span)}</p>',
        f'<div class="summary">{summary}</div>',
        '<nav><a href="#figures">Figures</a><a href="#tables">Tables</a>'
        '<a href="#configuration">Configuration</a></nav>',
        '<h2 id="figures">Figures</h2>',
        *[_figure_html(f) for f in figures],
        '<h2 id="tables">Tables</h2>',
        *[table_to_html(t) for t in tables],
        '<h2 id="configuration">Run configuration and tool versions</h2>',
        "<h3>Configuration</h3>",
        _kv_table(config, "configuration") if config
        else '<p class="empty">no records</p>',
        "<h3>Tool versions</h3>",
        _kv_table([(k, v) for k, v, _ in versions], "versions",
                  {k for k, _, m in versions if m}) if versions
        else '<p class="empty">no version information in the records</p>',
    ]
    if any(m for _, _, m in versions):
        sections.append('<p class="note mixed">Records were produced with different tool '
                        "versions; compare them with care.</p>")
    sections.append('<footer>qnn-bench · FINN analytical estimates (no synthesis unless '
                    "synth_* columns are present) · figures also saved as PNG and PDF</footer>")
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main>\n<script>{LOAD_SCRIPT}</script>\n</body></html>\n"
    )


def write_html(
    df: pd.DataFrame,
    tables: list[Table],
    figures: list[FigureResult],
    path: Path | str,
    title: str = "qnn-bench report",
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(df, tables, figures, title=title), encoding="utf-8")
    return path
