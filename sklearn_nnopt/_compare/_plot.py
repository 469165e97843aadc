"""The figure of ``compare``: training objective per epoch of each candidate."""

import os

import numpy as np

from ._errors import CompareError
from ._grid import _fmt_rate

PLOT_MESSAGE = "--plot needs matplotlib: pip install 'sklearn-nnopt[plot]'"


def _require_matplotlib():
    """Import matplotlib's object-oriented API, or raise a one-line ImportError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(PLOT_MESSAGE) from None
    return Figure, FigureCanvasAgg


def check_plot_path(path):
    """Raise :class:`CompareError` if ``path`` cannot be a figure file."""
    Figure, FigureCanvasAgg = _require_matplotlib()
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if ext not in formats:
        raise CompareError(
            f"cannot tell the image format of {path!r}; use one of the extensions "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CompareError(f"cannot write {path!r}: no directory {directory!r}")


def _save_plot(path, rows, title):
    """Training objective per epoch of each candidate, log-scale y (Agg backend).

    Uses ``matplotlib.figure.Figure`` directly, so pyplot's global state and the
    user's backend are left alone.
    """
    Figure, FigureCanvasAgg = _require_matplotlib()
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    n_curves, positive = _draw_curves(ax, rows)
    if positive:
        ax.set_yscale("log")
    else:  # e.g. the Poisson objective exp(z) - y z can be negative
        ax.set_yscale("symlog")
    ax.set_xlabel("epoch (L-BFGS: iteration)")
    ax.set_ylabel("training objective" + ("" if positive else " (symlog)"))
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    if n_curves:
        ax.legend(
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            ncol=1 if n_curves <= 30 else 2,
            frameon=False,
        )
    else:
        ax.text(0.5, 0.5, "no successful fit", ha="center", transform=ax.transAxes)
    fig.savefig(path, dpi=120)


def _draw_curves(ax, rows):
    """Draw each row's ``loss_curve`` on ``ax``; return (how many, all > 0)."""
    import matplotlib

    # Grid order (loss, then optimizer): colour = optimizer, line style = loss.
    ordered = sorted(rows, key=lambda r: r["index"])
    curves = [(r, r["loss_curve"]) for r in ordered if r.get("loss_curve")]
    styles = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3))]
    losses = list(dict.fromkeys(r["loss"] for r in ordered))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in ordered))
    rates = list(dict.fromkeys(str(r["learning_rate"]) for r in ordered))
    colors = matplotlib.colormaps["tab10" if len(optimizers) <= 10 else "tab20"]
    widths = np.linspace(1.0, 2.2, len(rates)) if len(rates) > 1 else [1.4]
    positive = True
    for row, curve in curves:
        values = np.asarray(curve, dtype=float)
        positive &= bool(np.all(values[np.isfinite(values)] > 0))
        label = f"{row['loss']} x {row['optimizer']}"
        if row["learning_rate"] != "auto":
            label += f" (lr={_fmt_rate(row['learning_rate'])})"
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            linestyle=styles[losses.index(row["loss"]) % len(styles)],
            color=colors(optimizers.index(row["optimizer"]) % colors.N),
            linewidth=widths[rates.index(str(row["learning_rate"]))],
            label=label,
        )
    return len(curves), positive
