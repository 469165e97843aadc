"""The result of ``compare``: the ranked rows and their text table."""

import math
from dataclasses import dataclass, field

from ._grid import _fmt_rate


@dataclass(repr=False)
class CompareResult:
    """The ranked candidates of :func:`compare`.

    Attributes
    ----------
    rows : list of dict
        One dict per candidate, best first, with the keys ``rank``, ``index``
        (the candidate's position in the grid, as in ``cv_results_``), ``loss``,
        ``optimizer``, ``learning_rate`` (``"auto"`` unless learning rates were
        compared), ``mean_score``, ``std_score``, ``scores`` (one per fold),
        ``mean_fit_time`` (seconds per fold), ``mean_n_iter`` (epochs, or
        L-BFGS iterations, averaged over the folds), ``not_converged_folds``,
        ``status`` (``"ok"``, ``"not converged"`` or ``"failed: <ErrorType>"``),
        ``error`` (the failure's message or None), ``params`` (the grid point,
        as ``GridSearchCV``'s ``cv_results_["params"]``) and ``loss_curve``
        (training objective per epoch of the whole-data fit when a plot was
        made, else None). Failed candidates score nan and rank last.
    task : {"classification", "regression"}
    scoring : str
        ``"accuracy"`` or ``"R^2"`` (the estimator's ``score``).
    data : str
        What was cross-validated, e.g. ``"breast_cancer (569 samples x 30
        features)"``.
    n_splits : int
    max_iter : int
    show_learning_rate : bool
        Whether the table has a learning-rate column.
    elapsed : float
        Wall time of the run in seconds.
    plot : str or None
        The figure's path if one was saved.
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
    >>> [(row["rank"], row["optimizer"], row["status"]) for row in result.rows]
    [(1, 'lbfgs', 'ok'), (2, 'adam', 'not converged')]
    """

    rows: list
    task: str = "classification"
    scoring: str = "accuracy"
    data: str = "data"
    n_splits: int = 5
    max_iter: int = 200
    show_learning_rate: bool = False
    elapsed: float = 0.0
    plot: str | None = None
    notes: list = field(default_factory=list)

    @property
    def best(self):
        """The best row (``rows[0]``)."""
        return self.rows[0]

    def to_text(self):
        """The ranked table, with a header line and a legend."""
        estimator = (
            "LinearNNClassifier"
            if self.task == "classification"
            else "LinearNNRegressor"
        )
        head = [
            "rank",
            "loss",
            "optimizer",
            *(["learning rate"] if self.show_learning_rate else []),
            f"mean {self.scoring}",
            "std",
            "fit time",
            "epochs",
            "status",
        ]
        right = {0, *range(len(head) - 5, len(head) - 1)}
        body = []
        for row in self.rows:
            failed = not math.isfinite(row["mean_score"])
            status = row["status"]
            if status == "not converged":
                status += f" ({row['not_converged_folds']}/{len(row['scores'])})"
            body.append(
                [
                    str(row["rank"]),
                    row["loss"],
                    row["optimizer"],
                    *(
                        [_fmt_rate(row["learning_rate"])]
                        if self.show_learning_rate
                        else []
                    ),
                    "-" if failed else f"{row['mean_score']:.4f}",
                    "-" if failed else f"{row['std_score']:.4f}",
                    "-" if failed else f"{row['mean_fit_time']:.2f} s",
                    "-" if failed else f"{row['mean_n_iter']:.0f}",
                    status,
                ]
            )
        widths = [max(len(r[j]) for r in [head, *body]) for j in range(len(head))]

        def line(cells):
            out = [
                cell.rjust(w) if j in right else cell.ljust(w)
                for j, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(out).rstrip()

        title = (
            f"{estimator} on {self.data}: {self.n_splits}-fold cross-validated "
            f"{self.scoring}, StandardScaler + model, max_iter={self.max_iter}"
        )
        legend = (
            "fit time: mean per fold; epochs: mean n_iter_ over the folds "
            "(L-BFGS: iterations); not converged (k/n): a ConvergenceWarning (the "
            "fit ended at max_iter or stopped away from the optimum) in k of the "
            "n folds; failed: the error a fold raised (its score would be nan in "
            "GridSearchCV)."
        )
        lines = [title, "", line(head), line(["-" * w for w in widths])]
        lines += [line(cells) for cells in body]
        lines += ["", *_wrap(legend, 88), *self.notes]
        return "\n".join(lines)

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        if not self.rows:
            return "CompareResult(rows=[])"
        best = self.rows[0]
        return (
            f"CompareResult({len(self.rows)} candidates, {self.task}, best: "
            f"{best['loss']} x {best['optimizer']} {self.scoring}="
            f"{best['mean_score']:.4f})"
        )


def _wrap(text, width):
    import textwrap

    return textwrap.wrap(text, width)


def _rank(rows):
    """Sort by mean score descending (nan last), ties share the smaller rank."""

    def key(item):
        i, row = item
        score = row["mean_score"]
        if not math.isfinite(score):
            return (1, 0.0, 0.0, i)
        return (0, -round(score, 10), row["std_score"], i)

    ordered = [row for _, row in sorted(enumerate(rows), key=key)]
    previous = None
    for position, row in enumerate(ordered, 1):
        score = row["mean_score"]
        tie = round(score, 10) if math.isfinite(score) else "nan"
        if tie != previous:
            rank = position
            previous = tie
        row["rank"] = rank
    return ordered
