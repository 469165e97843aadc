"""The figures of ``compare``: score against fit time, and training curves.

* :func:`score_figure`: each candidate's mean cross-validated score against its
  mean fit time per fold, with the fold spread, the tied group, the
  recommendation and the reference.
* :func:`curves_figure`: small multiples, one panel per loss, the objective gap
  to that loss's best against time, one line per optimizer.

``--plot`` saves both, stacked, in one file (:func:`save_plot`). Everything uses
``matplotlib.figure.Figure`` and the Agg canvas directly: pyplot's global state
and the user's backend are left alone (a pyplot figure can be passed in).
"""

import math
import os

import numpy as np

from ..optimizers import OPTIMIZERS
from ._errors import CompareError
from ._grid import _fmt_rate

PLOT_MESSAGE = "--plot needs matplotlib: pip install 'sklearn-nnopt[plot]'"

#: Relative floor added to the objective gap, so that the best point of a
#: loss (gap 0) still shows on a log scale: 1e-12 x max(|J*|, largest gap).
GAP_FLOOR = 1e-12

#: One marker per loss (cycled), one line style per learning rate.
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (8, 2))]

CURVES_NOTE = (
    "Each line: one fit on the whole standardized data at its loss's alpha. "
    "Epoch (L-BFGS, Newton: iteration) k of n is drawn at k/n of the fit's wall "
    "time, an approximation. Stochastic optimizers' objective per epoch is the "
    "average over the epoch's minibatches, each taken before its step (plus the "
    "penalty); full-batch ones' (L-BFGS, Newton) is the iterate's objective. "
    "Gap: J minus the lowest J of that loss's curves, plus a floor of 1e-12 x "
    "max(|J*|, largest gap) for the log scale."
)


def _require_matplotlib(message=PLOT_MESSAGE):
    """Import matplotlib's object-oriented API, or raise a one-line ImportError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(message) from None
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
    _check_directory(path)


def _check_directory(path):
    """Raise :class:`CompareError` unless ``path`` can be written, before the work.

    Opening it for appending (and removing it if it did not exist) is the
    check that does not guess: a directory, a read-only place (``/proc``), a
    dangling symlink all fail here, not after minutes of cross-validation.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CompareError(f"cannot write {path!r}: no directory {directory!r}")
    if os.path.isdir(path):
        raise CompareError(f"cannot write {path!r}: it is a directory")
    existed = os.path.lexists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise CompareError(f"cannot write {path!r}: {exc.strerror}") from None
    if not existed:
        os.remove(path)


def _new_figure(figsize, message=PLOT_MESSAGE):
    Figure, FigureCanvasAgg = _require_matplotlib(message)
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_plot(path, result):
    """Both figures, stacked in one file: scores on top, training curves below."""
    fig = _new_figure((12.0, 6.5 + _curves_height(result)))
    top, bottom = fig.subfigures(
        2, 1, height_ratios=[6.5, _curves_height(result)], hspace=0.02
    )
    score_figure(result, top)
    curves_figure(result, bottom)
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------ styles
def _styles(rows):
    """Colour per optimizer, marker per loss, line style per learning rate.

    In grid order, so that both figures (and both panels of a loss) agree.
    """
    import matplotlib

    ordered = sorted(rows, key=lambda r: r["index"])
    optimizers = list(dict.fromkeys(r["optimizer"] for r in ordered))
    losses = list(dict.fromkeys(r["loss"] for r in ordered))
    rates = list(dict.fromkeys(str(r["learning_rate"]) for r in ordered))
    cmap = matplotlib.colormaps["tab10" if len(optimizers) <= 10 else "tab20"]
    return (
        {name: cmap(i % cmap.N) for i, name in enumerate(optimizers)},
        {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(losses)},
        {rate: LINESTYLES[i % len(LINESTYLES)] for i, rate in enumerate(rates)},
    )


def _name(row, rates=False):
    name = f"{row['loss']} x {row['optimizer']}"
    if rates:
        name += f" (lr={_fmt_rate(row['learning_rate'])})"
    return name


def _header(label):
    """An invisible legend handle: a section title inside one legend."""
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", marker="none", label=label)


# ---------------------------------------------------------- score vs time
def score_figure(result, fig=None):
    """Mean CV score against mean fit time per fold; see ``plot_scores``."""
    if fig is None:
        fig = _new_figure((10.0, 6.0))
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    rows = [r for r in result.rows if math.isfinite(r["mean_score"])]
    colors, markers, _ = _styles(result.rows)
    ax = fig.add_subplot()
    rates = result.show_learning_rate
    for row in rows:
        color = colors[row["optimizer"]]
        ax.errorbar(
            row["mean_fit_time"],
            row["mean_score"],
            yerr=row["std_score"],
            color=color,
            ecolor=(*color[:3], 0.45),
            elinewidth=1.2,
            capsize=2,
            marker=markers[row["loss"]],
            markersize=8 if row["tied"] else 7,
            markerfacecolor=color if row["tied"] else "white",
            markeredgecolor=color,
            markeredgewidth=1.5,
            linestyle="none",
            zorder=3 if row["tied"] else 2,
        )
    tied = [r for r in rows if r["tied"]]
    best = result.best
    # Names only where they help: the whole tied group if it is small,
    # otherwise its best score and the recommendation.
    named = tied if len(tied) <= 6 else [tied[0]]
    for row in named:
        if row is best:
            continue
        ax.annotate(
            _name(row, rates),
            (row["mean_fit_time"], row["mean_score"]),
            xytext=(7, 4),
            textcoords="offset points",
            fontsize=7.5,
            color="0.25",
            zorder=5,
        )
    if best is not None:
        ax.scatter(
            [best["mean_fit_time"]],
            [best["mean_score"]],
            s=380,
            facecolors="none",
            edgecolors="black",
            linewidths=1.6,
            zorder=4,
        )
        ax.annotate(
            f"recommended: {_name(best, rates)}, alpha={best['alpha']:g}",
            (best["mean_fit_time"], best["mean_score"]),
            xytext=(0, -34),
            textcoords="offset points",
            ha="center",
            fontsize=8.5,
            fontweight="bold",
            arrowprops=dict(arrowstyle="-", color="black", lw=0.8),
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85),
            zorder=5,
        )
    ref = result.reference
    if ref is not None:
        mean, std = float(np.mean(ref["scores"])), float(np.std(ref["scores"]))
        ax.axhspan(mean - std, mean + std, color="0.5", alpha=0.12, lw=0, zorder=0)
        ax.axhline(mean, color="0.4", linestyle="--", linewidth=1.0, zorder=1)
        ax.plot(
            [ref["mean_fit_time"]],
            [mean],
            marker="*",
            markersize=11,
            color="0.3",
            linestyle="none",
            zorder=3,
        )
        ax.text(
            0.005,
            mean,
            f" {ref['name']}",
            transform=blended_transform_factory(ax.transAxes, ax.transData),
            ha="left",
            va="bottom",
            fontsize=8,
            color="0.3",
        )
    ax.set_xscale("log")
    ax.set_xlabel("mean fit time per fold (s, log scale; at the chosen alpha)")
    ax.set_ylabel(f"mean {result.scoring} over {result.n_splits} folds (bars: ± 1 std)")
    ax.grid(True, which="major", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no successful fit", ha="center", transform=ax.transAxes)

    shown = {(r["loss"], r["optimizer"]) for r in rows}
    handles = [_header("optimizer (colour)")]
    handles += [
        Line2D([], [], color=c, marker="o", linestyle="none", label=name)
        for name, c in colors.items()
        if any(o == name for _, o in shown)
    ]
    handles.append(_header("loss (marker)"))
    handles += [
        Line2D(
            [], [], color="0.2", marker=m, markerfacecolor="0.2", ls="none", label=name
        )
        for name, m in markers.items()
        if any(loss == name for loss, _ in shown)
    ]
    handles.append(_header("fill"))
    handles += [
        Line2D(
            [], [], color="0.2", marker="o", ls="none", label="filled: tied with best"
        ),
        Line2D(
            [],
            [],
            color="0.2",
            marker="o",
            markerfacecolor="white",
            ls="none",
            label="hollow: significantly worse",
        ),
        Line2D(
            [],
            [],
            marker="o",
            markersize=13,
            markerfacecolor="none",
            markeredgecolor="black",
            ls="none",
            label="ring: recommended",
        ),
    ]
    if ref is not None:
        handles.append(
            Line2D(
                [],
                [],
                color="0.4",
                marker="*",
                markersize=9,
                ls="--",
                label=f"{ref['name']}: {mean:.4f} ± {std:.4f},\n"
                f"{ref['mean_fit_time']:.3f} s per fit (band: ± 1 std)",
            )
        )
    legend = fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        handletextpad=0.4,
    )
    _bold_headers(legend)
    n_failed = sum(
        1
        for r in result.rows
        if not math.isfinite(r["mean_score"]) and not r["status"].startswith("refused")
    )
    n_refused = sum(1 for r in result.rows if r["status"].startswith("refused"))
    missing = []
    if n_failed:
        missing.append(f"{n_failed} failed")
    if n_refused:
        missing.append(f"{n_refused} refused")
    ax.set_title(
        f"{result.scoring} against fit time, each candidate at its own alpha\n"
        f"{result.n_splits}-fold CV on {result.data}"
        + (f"; not shown: {', '.join(missing)}" if missing else ""),
        fontsize=10,
        loc="left",
    )
    return fig


def _bold_headers(legend):
    """Bold the section titles (:func:`_header`) of a legend."""
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        if str(getattr(handle, "get_marker", lambda: "")()).lower() == "none":
            text.set_fontweight("bold")


# ----------------------------------------------------------- training curves
def _curve_losses(result):
    """The losses with at least one curve, in grid order."""
    ordered = sorted(result.rows, key=lambda r: r["index"])
    return list(dict.fromkeys(r["loss"] for r in ordered if r.get("loss_curve")))


def _grid_shape(n):
    ncols = min(n, 3) if n != 4 else 2
    return max(1, math.ceil(n / max(ncols, 1))), max(ncols, 1)


def _curves_height(result):
    nrows, _ = _grid_shape(len(_curve_losses(result)))
    return 2.9 * nrows + 1.6


def objective_gaps(rows):
    """Each curve's objective gap to the best of its loss: ``{index: gap}``.

    ``J - J*`` with ``J*`` the lowest objective over that loss's curves, plus
    a floor of :data:`GAP_FLOOR` x max(|J*|, the largest gap), so that the
    best point stays on a log scale. Returns ``{loss: (J*, floor)}`` too.
    """
    by_loss = {}
    for row in rows:
        if row.get("loss_curve"):
            by_loss.setdefault(row["loss"], []).append(row)
    gaps, best = {}, {}
    for loss, group in by_loss.items():
        curves = [np.asarray(r["loss_curve"], dtype=float) for r in group]
        finite = [c[np.isfinite(c)] for c in curves]
        low = min((float(c.min()) for c in finite if c.size), default=0.0)
        high = max((float(c.max()) for c in finite if c.size), default=low)
        floor = GAP_FLOOR * max(abs(low), high - low, np.finfo(float).tiny)
        best[loss] = (low, floor)
        for row, curve in zip(group, curves, strict=True):
            gaps[row["index"]] = np.maximum(curve - low, 0.0) + floor
    return gaps, best


def _is_stochastic(row):
    optimizer = row["grid_params"].get("model__optimizer")
    try:
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS.create(optimizer, "optimizer")
        return bool(optimizer.stochastic)
    except Exception:
        return True


def curves_figure(result, fig=None):
    """Small multiples of the training curves; see ``plot_curves``."""
    losses = _curve_losses(result)
    nrows, ncols = _grid_shape(len(losses))
    if fig is None:
        fig = _new_figure((4.0 * ncols + 1.8, _curves_height(result)))
    from matplotlib.lines import Line2D

    colors, _, styles = _styles(result.rows)
    gaps, best = objective_gaps(result.rows)
    if not losses:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            "no training curves (compare(..., curves=True), or plot= / report=)",
            ha="center",
            transform=ax.transAxes,
        )
        return fig
    axes = fig.subplots(nrows, ncols, squeeze=False)
    times = []
    for ax, loss in zip(axes.flat, losses, strict=False):
        group = sorted(
            (r for r in result.rows if r["loss"] == loss and r.get("loss_curve")),
            key=lambda r: r["index"],
        )
        for row in group:
            gap = gaps[row["index"]]
            n = len(gap)
            t = np.arange(1, n + 1) / n * max(row["curve_time"], 1e-6)
            times += [t[0], t[-1]]
            color = colors[row["optimizer"]]
            style = styles[str(row["learning_rate"])]
            ax.plot(t, gap, color=color, linestyle=style, linewidth=1.5)
            ax.plot(
                t[-1],
                gap[-1],
                marker="o",
                markersize=5,
                color=color,
                markerfacecolor=color if row["curve_converged"] else "white",
                linestyle="none",
            )
        low, floor = best[loss]
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_title(
            f"{loss}  (alpha={result.curve_alphas.get(loss, math.nan):g}, "
            f"J*={low:.4g})",
            fontsize=9,
        )
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=floor / 3)
    for ax in axes.flat[len(losses) :]:
        ax.set_visible(False)
    if times:
        for ax in axes.flat[: len(losses)]:
            ax.set_xlim(min(times) / 1.5, max(times) * 1.5)
    fig.supxlabel(
        "time (s, log scale): epoch k of n drawn at k/n of the fit's wall time "
        "(approximate)",
        fontsize=9,
    )
    fig.supylabel("objective gap J - J* (log scale)", fontsize=9)

    with_curves = [r for r in result.rows if r.get("loss_curve")]
    optimizers = list(dict.fromkeys(r["optimizer"] for r in with_curves))
    stochastic = {r["optimizer"]: _is_stochastic(r) for r in with_curves}
    handles = [
        Line2D(
            [],
            [],
            color=colors[name],
            linewidth=2,
            label=name + ("" if stochastic[name] else " (full batch)"),
        )
        for name in colors
        if name in optimizers
    ]
    rates = list(dict.fromkeys(str(r["learning_rate"]) for r in with_curves))
    if len(rates) > 1:
        handles += [
            Line2D(
                [],
                [],
                color="0.3",
                linestyle=styles[rate],
                label=f"lr={_fmt_rate(_number(rate))}",
            )
            for rate in rates
        ]
    handles += [
        Line2D([], [], color="0.3", marker="o", ls="none", label="end: converged"),
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            markerfacecolor="white",
            ls="none",
            label="end: not converged",
        ),
    ]
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        title="optimizer",
        title_fontsize=8,
    )
    fig.suptitle(
        "Training curves at each loss's alpha: objective gap to the loss's best "
        "against time\n(stochastic optimizers: average minibatch objective per "
        "epoch; full batch: the iterate's objective per iteration)",
        fontsize=10,
    )
    return fig


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text
