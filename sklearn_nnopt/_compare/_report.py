"""The HTML report of ``compare`` (``--report out.html``): one self-contained file.

The settings, the recommendation and the reference, the ranked table, the
refused and failed candidates, both figures of ``_plot`` embedded as base64 PNG
images, and the legend. Inline CSS only: no scripts, no external resources, so
that the file can be mailed or attached as it is.
"""

import base64
import io
import math
import os
from html import escape

from ._errors import CompareError
from ._plot import CURVES_NOTE, _check_directory, _require_matplotlib

REPORT_MESSAGE = "--report needs matplotlib: pip install 'sklearn-nnopt[plot]'"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
h1 { font-size: 1.45em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.settings { color: #555; margin-top: 0; }
pre { background: #f4f4f4; padding: 0.7em 1em; overflow-x: auto;
      border-left: 3px solid #2a7; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.tied td { background: #eef8f1; }
tr.best td { background: #cdeed8; font-weight: 600; }
tr.failed td { color: #a33; }
tr.refused td { color: #888; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .legend, .notes { color: #555; font-size: 0.9em; }
"""


def check_report_path(path):
    """Raise :class:`CompareError` if ``path`` cannot be the HTML report.

    The report embeds the figures: without matplotlib, an ImportError with
    :data:`REPORT_MESSAGE`.
    """
    _require_matplotlib(REPORT_MESSAGE)
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() not in (".html", ".htm"):
        raise CompareError(f"the report {path!r} must end in .html (or .htm)")
    if os.path.isdir(path):
        raise CompareError(f"cannot write {path!r}: it is a directory")
    _check_directory(path)


def save_report(path, result):
    """Write :func:`html_report` to ``path`` (UTF-8)."""
    text = html_report(result)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)


def _png(fig):
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    # No metadata: the PNG's "Software" text would name a web site.
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def html_report(result):
    """The report as one HTML string (see :meth:`CompareResult.to_html`)."""
    _require_matplotlib(REPORT_MESSAGE)
    from ._plot import curves_figure, score_figure

    def e(text):  # element content: quotes stay as they are
        return escape(text, quote=False)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>compare: {e(result.estimator)} on {e(result.data)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Losses x optimizers: {e(result.estimator)} on {e(result.data)}</h1>",
        f'<p class="settings">{e(_settings(result))}</p>',
        "<h2>Recommendation</h2>",
    ]
    if result.best is not None:
        parts += [
            f"<pre><code>{e(result.recommendation)}</code></pre>",
            f"<p>Why: {e(result.reason)}.</p>",
        ]
    else:
        parts.append(f"<p><strong>{e(result.reason)}</strong></p>")
    if result.reference is not None:
        parts.append(f"<p>{e(result._reference_text())}</p>")

    parts += ["<h2>Ranked candidates</h2>", _table(result)]
    problems = result._problems()
    if problems:
        parts.append("<h3>Refused and failed</h3>")
        parts.append("<ul>" + "".join(f"<li>{e(p)}</li>" for p in problems) + "</ul>")
    parts.append(f'<p class="legend">{e(result._legend())}</p>')
    if result.notes:
        parts.append(
            '<p class="notes">' + "<br>".join(e(n) for n in result.notes) + "</p>"
        )

    parts += [
        "<h2>Score against fit time</h2>",
        _figure(
            score_figure(result),
            "Mean cross-validated score against mean fit time per fold",
            "One point per candidate that did not fail, each at its own alpha; "
            "bars: one standard deviation over the folds. Filled: tied with the "
            "best; hollow: significantly worse; ringed: the recommendation. "
            "Colour: optimizer; marker: loss. Grey line and band: the reference "
            "(mean and one standard deviation), its star at its fit time.",
        ),
        "<h2>Training curves</h2>",
        _figure(
            curves_figure(result),
            "Objective gap to each loss's best against time",
            "One panel per loss, at the most frequent alpha of that loss's "
            "candidates ("
            + ", ".join(f"{k} {v:g}" for k, v in result.curve_alphas.items())
            + "); one line per optimizer, one colour per optimizer in every "
            "panel; end marker filled if that fit converged. " + CURVES_NOTE,
        ),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _settings(result):
    alphas = ", ".join(f"{a:g}" for a in result.alphas)
    n_rows = len(result.rows)
    text = (
        f"{result.n_splits}-fold cross-validated {result.scoring}; "
        f"Pipeline(StandardScaler(), {result.estimator}(max_iter={result.max_iter}"
        f")); each candidate's alpha chosen per fold from {{{alphas}}}; "
        f"{n_rows} candidates"
    )
    if result.elapsed:
        text += f"; {result.elapsed:.1f} s to cross-validate and fit the curves"
    return text + "."


def _table(result):
    head, body = result._table()
    numeric = {len(head) - 7 + j for j in range(6)}  # alpha ... epochs
    numeric.add(0)
    lines = ["<table>", "<thead><tr>"]
    lines += [f"<th>{escape(h, quote=False)}</th>" for h in head]
    lines.append("</tr></thead>")
    lines.append("<tbody>")
    for row, cells in zip(result.rows, body, strict=True):
        if row is result.best:
            kind = "best"
        elif row["tied"]:
            kind = "tied"
        elif row["status"].startswith("refused"):
            kind = "refused"
        elif not math.isfinite(row["mean_score"]):
            kind = "failed"
        else:
            kind = "other"
        tds = "".join(
            f'<td class="num">{escape(c, quote=False)}</td>'
            if j in numeric
            else f"<td>{escape(c, quote=False)}</td>"
            for j, c in enumerate(cells)
        )
        lines.append(f'<tr class="{kind}">{tds}</tr>')
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _figure(fig, alt, caption):
    return (
        f'<figure><img alt="{escape(alt)}" src="{_png(fig)}">'
        f"<figcaption>{escape(caption, quote=False)}</figcaption></figure>"
    )
