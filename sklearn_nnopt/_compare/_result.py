"""The result of ``compare``: the ranked rows and their text table."""

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ._grid import _fmt_rate


@dataclass(repr=False)
class CompareResult:
    """The ranked candidates of :func:`compare` and its recommendation.

    Attributes
    ----------
    rows : list of dict
        One dict per candidate, best first, with the keys ``rank`` (1 for the
        best and every candidate tied with it; None for refused ones),
        ``index`` (the candidate's position in the grid), ``loss``,
        ``optimizer``, ``learning_rate`` (``"auto"`` unless learning rates were
        compared), ``alpha`` (the alpha chosen in most folds), ``alphas`` (per
        fold), ``mean_score``, ``std_score``, ``scores`` (one per fold, the
        same folds for every candidate), ``mean_fit_time`` (seconds per fold,
        the refit at the chosen alpha), ``mean_n_iter`` (epochs, or L-BFGS /
        Newton iterations), ``not_converged_folds``, ``converged`` (in every
        fold), ``tied`` (not significantly worse than the best), ``p_value``
        (of :func:`tie_p_value` against the best), ``status``
        (``"converged"``, ``"not converged (k/n folds)"``, ``"failed:
        <ErrorType>: <message>"`` or ``"refused: <reason>"``), ``error``,
        ``params`` (the estimator's own parameter names: ``loss``,
        ``optimizer``, ``alpha``, and ``learning_rate_init`` if searched),
        ``grid_params`` (the grid point, ``model__``-prefixed), and the
        training curve, when curves were fitted (``plot``, ``report`` or
        ``curves=True``; otherwise None / nan): ``loss_curve`` (the
        ``loss_curve_`` of one fit on the whole standardized data, at
        ``curve_alpha``, its loss's alpha), ``curve_time`` (that fit's
        seconds) and ``curve_converged`` (no ``ConvergenceWarning``).
    best : dict or None
        The recommended row (:func:`recommend`): among the candidates tied
        with the best that converged in every fold, the best score of those
        that fit within 2x of the fastest one's time; None when none
        converged.
    recommendation : str
        The recommendation as one line of code (empty if none).
    reason : str
        Why it is recommended, in one sentence.
    reference : dict or None
        ``LogisticRegression()`` or ``Ridge()`` on the same folds and scaler:
        ``name``, ``scores``, ``mean_fit_time``.
    task : {"classification", "regression"}
    scoring : str
        ``"accuracy"`` or ``"R^2"`` (the estimator's ``score``).
    data : str
        What was cross-validated, e.g. ``"breast_cancer (569 samples x 30
        features)"``.
    n_splits : int
    sizes : list of (int, int)
        Each fold's training and test rows.
    max_iter : int
    alphas : list of float
        The alphas each candidate chose from.
    show_learning_rate : bool
        Whether the table has a learning-rate column.
    elapsed : float
        Wall time of the run in seconds.
    plot : str or None
        The figure's path if one was saved.
    report : str or None
        The HTML report's path if one was written.
    curve_alphas : dict
        ``{loss: alpha}``: the alpha of each loss's training curves, the most
        frequent ``alpha`` of that loss's candidates that did not fail (ties:
        the larger); empty when no curves were fitted.
    notes : list of str
        Lines printed under the table (e.g. a default loss skipped because the
        target is outside its domain).

    Examples
    --------
    >>> from sklearn_nnopt import compare
    >>> result = compare(
    ...     dataset="iris", losses=["log_loss"], optimizers=["adam", "lbfgs"],
    ...     cv=2, max_iter=50, verbose=False,
    ... )
    >>> result.data, result.scoring
    ('iris (150 samples x 4 features)', 'accuracy')
    >>> [(row["optimizer"], row["status"]) for row in result.rows]
    [('lbfgs', 'converged'), ('adam', 'not converged (2/2 folds)')]
    >>> result.best["params"]["optimizer"]
    'lbfgs'
    """

    rows: list
    task: str = "classification"
    scoring: str = "accuracy"
    data: str = "data"
    n_splits: int = 5
    sizes: list = field(default_factory=list)
    max_iter: int = 200
    alphas: list = field(default_factory=list)
    show_learning_rate: bool = False
    elapsed: float = 0.0
    plot: str | None = None
    report: str | None = None
    curve_alphas: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    reference: dict | None = None
    best: dict | None = field(init=False, default=None)
    recommendation: str = field(init=False, default="")
    reason: str = field(init=False, default="")

    def __post_init__(self):
        self.best, self.reason = recommend(self.rows)
        if self.best is not None:
            self.recommendation = code_line(self.best, self.task)

    @property
    def estimator(self):
        """``"LinearNNClassifier"`` or ``"LinearNNRegressor"``."""
        return (
            "LinearNNClassifier"
            if self.task == "classification"
            else "LinearNNRegressor"
        )

    def _table(self):
        """The table's header and one list of cells per row (strings)."""
        head = [
            "rank",
            "loss",
            "optimizer",
            *(["learning rate"] if self.show_learning_rate else []),
            "alpha",
            f"mean {self.scoring}",
            "std",
            "p",
            "fit time",
            "epochs",
            "status",
        ]
        body = []
        for row in self.rows:
            failed = not math.isfinite(row["mean_score"])
            rank = "-" if row["rank"] is None else str(row["rank"])
            if row["tied"]:
                rank += "="
            if row is self.best:
                rank = "*" + rank
            body.append(
                [
                    rank,
                    row["loss"],
                    row["optimizer"],
                    *(
                        [_fmt_rate(row["learning_rate"])]
                        if self.show_learning_rate
                        else []
                    ),
                    "-" if failed else f"{row['alpha']:g}",
                    "-" if failed else f"{row['mean_score']:.4f}",
                    "-" if failed else f"{row['std_score']:.4f}",
                    _fmt_p(row["p_value"]) if not failed else "-",
                    "-" if failed else f"{row['mean_fit_time']:.3f} s",
                    "-" if failed else f"{row['mean_n_iter']:.0f}",
                    _short_status(row),
                ]
            )
        return head, body

    def _title(self):
        alphas = ", ".join(f"{a:g}" for a in self.alphas)
        return (
            f"{self.estimator} on {self.data}: {self.n_splits}-fold cross-validated "
            f"{self.scoring}, StandardScaler + model, max_iter={self.max_iter}, "
            f"alpha chosen per fold from {{{alphas}}}"
        )

    def _problems(self):
        """``"Refused: loss x optimizer: reason"`` / ``"Failed: ..."`` lines."""
        lines = []
        for row in self.rows:
            if row["error"] and not math.isfinite(row["mean_score"]):
                what = "Refused" if row["status"].startswith("refused") else "Failed"
                lines.append(
                    f"{what}: {row['loss']} x {row['optimizer']}: {row['error']}"
                )
        return lines

    def _reference_text(self):
        """The reference's scores, and whether the recommendation ties it."""
        if self.reference is None:
            return ""
        ref = self.reference
        text = (
            f"Reference: {ref['name']} (its defaults, same folds) "
            f"{np.mean(ref['scores']):.4f} +- {np.std(ref['scores']):.4f}, "
            f"{ref['mean_fit_time']:.3f} s per fit"
        )
        if self.best is not None:
            p = tie_p_value(ref["scores"], self.best["scores"], self.sizes)
            verdict = "tied" if p >= TIE_LEVEL else "significantly worse"
            if np.mean(self.best["scores"]) >= np.mean(ref["scores"]):
                verdict = "as good or better"
            text += f"; the recommendation is {verdict} (p = {_fmt_p(p)})"
        return text + "."

    def _legend(self):
        return (
            "rank: '=' tied with the best (not significantly worse: Nadeau-Bengio "
            f"corrected paired t-test on the same folds, p >= {TIE_LEVEL}), '*' "
            "recommended; alpha: chosen in most folds (by an inner 80/20 split of "
            "each fold's training rows); fit time: mean per fold, at the chosen "
            "alpha; epochs: mean n_iter_ (L-BFGS, Newton: iterations); not "
            "converged (k/n folds): a ConvergenceWarning in k of the n folds; "
            "failed: the error a fold raised; refused: a pair the estimator does "
            "not train."
        )

    def to_text(self):
        """The ranked table, the reference, the recommendation and a legend."""
        head, body = self._table()
        right = {0, *range(len(head) - 7, len(head) - 1)}
        widths = [max(len(r[j]) for r in [head, *body]) for j in range(len(head))]

        def line(cells):
            out = [
                cell.rjust(w) if j in right else cell.ljust(w)
                for j, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(out).rstrip()

        lines = [self._title(), "", line(head), line(["-" * w for w in widths])]
        lines += [line(cells) for cells in body]
        lines.append("")
        for problem in self._problems():
            lines += _wrap(problem, 88)
        if self.reference is not None:
            lines += _wrap(self._reference_text(), 88)
        if self.best is not None:
            lines += [
                f"Recommended: {self.recommendation}",
                f"  (needs: {imports_line(self.task)})",
                *_wrap(f"Why: {self.reason}.", 88),
            ]
        else:
            lines += _wrap(self.reason, 88)
        lines += ["", *_wrap(self._legend(), 88), *self.notes]
        return "\n".join(lines)

    def plot_scores(self, fig=None):
        """Figure: mean CV score against mean fit time, one point per candidate.

        Error bars span the fold scores' standard deviation; candidates tied
        with the best are filled, the others hollow; the recommendation is
        circled and named; the reference (``LogisticRegression()`` /
        ``Ridge()``) is a grey line with a band of one standard deviation.
        Colour is the optimizer, marker the loss.

        Parameters
        ----------
        fig : matplotlib Figure or SubFigure, optional
            Where to draw (e.g. ``plt.figure(layout="constrained")``); default:
            a new ``matplotlib.figure.Figure`` (pyplot is not used).

        Returns
        -------
        matplotlib.figure.Figure or SubFigure
        """
        from ._plot import score_figure

        return score_figure(self, fig)

    def plot_curves(self, fig=None):
        """Figure: training curves, one panel per loss, one line per optimizer.

        Each panel plots the objective gap to that loss's best (log scale)
        against time, for one fit per candidate on the whole standardized
        data at the loss's alpha (``curve_alphas``). Needs the curves:
        ``compare(..., curves=True)`` (implied by ``plot`` and ``report``).

        Parameters
        ----------
        fig : matplotlib Figure or SubFigure, optional
            Where to draw; default: a new ``matplotlib.figure.Figure``.

        Returns
        -------
        matplotlib.figure.Figure or SubFigure
        """
        from ._plot import curves_figure

        return curves_figure(self, fig)

    def to_html(self):
        """The self-contained HTML report (what ``report=`` writes).

        The settings, the recommendation and the reference, the ranked table,
        the refused and failed candidates, both figures as embedded PNG images
        (:meth:`plot_scores`, :meth:`plot_curves`) and the legend; no scripts
        and no external resources. Needs matplotlib and the curves.
        """
        from ._report import html_report

        return html_report(self)

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        if self.best is None:
            return f"CompareResult({len(self.rows)} candidates, no recommendation)"
        best = self.best
        return (
            f"CompareResult({len(self.rows)} candidates, {self.task}, recommended: "
            f"{best['loss']} x {best['optimizer']} alpha={best['alpha']:g} "
            f"{self.scoring}={best['mean_score']:.4f})"
        )


def _fmt_p(p):
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def _short_status(row):
    """The table's status: the error's type without its message (listed below)."""
    status = row["status"]
    if status.startswith("refused"):
        return "refused"
    if status.startswith("failed") and row["error"]:
        return status[: -len(row["error"]) - 2]
    return status


def _wrap(text, width):
    import textwrap

    return textwrap.wrap(text, width)


def tie_p_value(best, other, sizes):
    r"""One-sided p-value that ``other`` scores lower than ``best``, fold-paired.

    Nadeau & Bengio's corrected resampled t-test ("Inference for the
    generalization error", Machine Learning 52, 2003): the folds' score
    differences :math:`d_k` are not independent (their training sets
    overlap), so their variance is inflated by the ratio of test to training
    rows,

    .. math::
        t = \frac{\bar d}{\sqrt{(1/K + n_{test}/n_{train})\, s_d^2}},

    with :math:`K - 1` degrees of freedom. Identical fold scores give 1; a
    constant positive difference gives 0.
    """
    d = np.asarray(best, dtype=float) - np.asarray(other, dtype=float)
    k = len(d)
    mean = float(d.mean())
    if k < 2 or np.allclose(d, 0.0, rtol=0.0, atol=1e-12):
        return 1.0
    var = float(d.var(ddof=1))
    if var == 0.0:
        return 0.0 if mean > 0 else 1.0
    n_train, n_test = np.mean([a for a, _ in sizes]), np.mean([b for _, b in sizes])
    t = mean / np.sqrt((1.0 / k + n_test / n_train) * var)
    return float(stats.t.sf(t, df=k - 1))


#: Candidates whose p-value against the best is at least this are tied with it.
TIE_LEVEL = 0.05


def _rank(rows, sizes):
    """Ranks: the best and those not significantly worse share rank 1.

    The best is the highest mean score. A candidate is tied with it when
    :func:`tie_p_value` is at least :data:`TIE_LEVEL`. The others follow by
    mean score; equal printed scores (4 decimals) share a rank. Failed
    candidates rank last; refused ones are listed after them, unranked.
    """
    scored = [r for r in rows if math.isfinite(r["mean_score"])]
    failed = [r for r in rows if not math.isfinite(r["mean_score"])]
    refused = [r for r in failed if r["status"].startswith("refused")]
    failed = [r for r in failed if r not in refused]
    if scored:
        best = max(scored, key=lambda r: (r["mean_score"], -r["std_score"]))
        for row in scored:
            row["p_value"] = tie_p_value(best["scores"], row["scores"], sizes)
            row["tied"] = row is best or row["p_value"] >= TIE_LEVEL
    scored.sort(
        key=lambda r: (not r["tied"], -round(r["mean_score"], 4), r["mean_fit_time"])
    )
    previous = None
    for position, row in enumerate(scored, 1):
        key = "tied" if row["tied"] else round(row["mean_score"], 4)
        if key != previous:
            rank, previous = position, key
        row["rank"] = rank
    for row in failed:
        row["rank"] = len(scored) + 1
    return [*scored, *failed, *refused]


#: Fit times within this factor of the fastest count as equally fast: on a
#: shared machine one run's milliseconds differ from the next's by up to 2x,
#: and "the fastest" alone flipped the recommendation between identical runs
#: (perceptron x sgd, then log_loss x newton, on breast_cancer).
SPEED_MARGIN = 2.0


def recommend(rows):
    """The recommended candidate: fast, tied with the best, converged.

    Among the candidates tied with the best that converged in every fold,
    those whose mean fit time is within :data:`SPEED_MARGIN` of the fastest;
    of these, the highest mean score (then the first in grid order). Returns ``(row,
    reason)``; ``(None, reason)`` when no tied candidate converged in every
    fold.
    """
    tied = [r for r in rows if r["tied"]]
    ready = [r for r in tied if r["converged"]]
    if not ready:
        return None, (
            f"No recommendation: none of the {len(tied)} candidates tied with the "
            f"best converged in every fold; raise max_iter or see the statuses."
        )
    fastest = min(r["mean_fit_time"] for r in ready)
    quick = [r for r in ready if r["mean_fit_time"] <= SPEED_MARGIN * fastest]
    # Equal scores: the first in grid order (deterministic; their times
    # differ by timing noise only).
    row = max(quick, key=lambda r: (round(r["mean_score"], 10), -r["index"]))
    others = len(tied) - 1
    reason = (
        f"the best score among the fastest ({row['mean_fit_time']:.3g} s per fit, "
        f"within {SPEED_MARGIN:g}x of the fastest) of the "
        f"{_count(len(ready), 'candidate')} that converged in every fold among "
        f"the best and the {_count(others, 'candidate')} not significantly worse "
        f"(Nadeau-Bengio corrected paired t-test, p >= {TIE_LEVEL})"
    )
    return row, reason


def _count(n, word):
    return f"{n} {word if n == 1 else word + 's'}"


def code_line(row, task):
    """The recommendation as one line a user can paste."""
    estimator = (
        "LinearNNClassifier" if task == "classification" else "LinearNNRegressor"
    )
    args = ", ".join(f"{k}={_literal(v)}" for k, v in row["params"].items())
    return f"make_pipeline(StandardScaler(), {estimator}({args}))"


def imports_line(task):
    """The imports the recommended line needs, as one line."""
    estimator = (
        "LinearNNClassifier" if task == "classification" else "LinearNNRegressor"
    )
    return (
        "from sklearn.pipeline import make_pipeline; from sklearn.preprocessing "
        f"import StandardScaler; from sklearn_nnopt import {estimator}"
    )


def _literal(value):
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)
