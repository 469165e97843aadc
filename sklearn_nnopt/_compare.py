"""Cross-validate a grid of losses x optimizers and rank them.

This is what ``python -m sklearn_nnopt compare`` runs (the command line lives in
``sklearn_nnopt/__main__.py``); :func:`compare` is the same thing as a function.
"""

import csv
import io
import math
import numbers
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterGrid, check_cv, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from ._classifier import LinearNNClassifier
from ._regressor import LinearNNRegressor
from .losses import LOSSES, Loss
from .optimizers import OPTIMIZERS, Optimizer

__all__ = ["compare", "CompareResult", "CompareError", "DATASETS"]

#: Bundled datasets: name -> (``sklearn.datasets`` loader, task).
DATASETS = {
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}

#: The default optimizers: plain and momentum SGD, two adaptive methods with
#: different memories (Adam, RMSprop), Adagrad's decaying steps and full-batch
#: L-BFGS. ``optimizers="all"`` adds nesterov, amsgrad, adamw, nadam, adamax
#: and adadelta.
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad", "lbfgs")

#: Default losses per task, in display order (every registered loss of the task,
#: without the alias ``cross_entropy`` of ``log_loss``).
DEFAULT_LOSSES = {
    "classification": (
        "log_loss",
        "hinge",
        "squared_hinge",
        "modified_huber",
        "perceptron",
        "squared_error",
    ),
    "regression": (
        "squared_error",
        "absolute_error",
        "huber",
        "epsilon_insensitive",
        "squared_epsilon_insensitive",
        "quantile",
        "poisson",
    ),
}

TASKS = ("classification", "regression")

PLOT_MESSAGE = "--plot needs matplotlib: pip install 'sklearn-nnopt[plot]'"

_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}


class CompareError(ValueError):
    """An argument or input of :func:`compare` is invalid (one-line message)."""


# --------------------------------------------------------------------- data
def load_dataset(name):
    """Return ``X, y, task`` for a bundled dataset (see ``DATASETS``)."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise CompareError(
            f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} "
            f"(or use --csv PATH --target COLUMN)"
        )
    import sklearn.datasets

    loader, task = DATASETS[key]
    X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    return X, y, task


def _parse_float(cell):
    try:
        value = float(cell)
    except ValueError:
        return None
    return value


def read_csv(path, target):
    """Read a CSV file with a header row into numeric ``X`` and a target ``y``.

    Uses the standard library's :mod:`csv` module (pandas is not needed). The
    delimiter is ``,`` unless the header has none, then tab or ``;``. Every
    column but ``target`` is a feature and must be numeric without missing
    values; the target may hold numbers or strings (class labels).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), float64 if every value is a number, else str
    feature_names : list of str
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except OSError as exc:
        raise CompareError(
            f"cannot read CSV {str(path)!r}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise CompareError(f"cannot read CSV {str(path)!r}: not UTF-8 text") from None
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    if not first_line.strip():
        raise CompareError(f"CSV {str(path)!r} is empty")
    delimiter = ","
    if "," not in first_line:
        delimiter = "\t" if "\t" in first_line else ";" if ";" in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, lines = [], []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise CompareError(
            f"cannot parse CSV {str(path)!r}, line {reader.line_num}: {exc}"
        ) from None
    header, rows, lines = rows[0], rows[1:], lines[1:]
    if target not in header:
        raise CompareError(
            f"--target {target!r} is not a column of {str(path)!r}; columns are: "
            f"{', '.join(header)}"
        )
    if header.count(target) > 1:
        raise CompareError(f"column {target!r} appears twice in {str(path)!r}")
    if not rows:
        raise CompareError(f"CSV {str(path)!r} has a header but no data rows")
    if len(header) < 2:
        raise CompareError(f"CSV {str(path)!r} has no feature column besides target")
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(header):
            raise CompareError(
                f"CSV {str(path)!r}, line {line}: {len(row)} fields, but the "
                f"header has {len(header)}"
            )
    t = header.index(target)
    features = [j for j in range(len(header)) if j != t]
    X = np.empty((len(rows), len(features)))
    for k, j in enumerate(features):
        for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
            cell = row[j]
            value = None if cell.lower() in _MISSING else _parse_float(cell)
            if value is None or not math.isfinite(value):
                what = (
                    "has a missing value"
                    if value is not None or cell.lower() in _MISSING
                    else "is not numeric"
                )
                raise CompareError(
                    f"feature column {header[j]!r} of {str(path)!r} {what} "
                    f"(line {line}: {cell!r}); compare needs numeric features "
                    f"without missing values: encode, impute or drop that column"
                )
            X[i, k] = value
    labels = [row[t] for row in rows]
    for label, line in zip(labels, lines, strict=True):
        if label.lower() in _MISSING:
            raise CompareError(
                f"target column {target!r} of {str(path)!r} has a missing value "
                f"(line {line}); drop that row"
            )
    numbers_ = [_parse_float(label) for label in labels]
    if all(v is not None and math.isfinite(v) for v in numbers_):
        y = np.asarray(numbers_, dtype=float)
    else:
        y = np.asarray(labels, dtype=str)
    return X, y, [header[j] for j in features]


def _infer_task(y, task):
    """Validate ``task`` against ``y``, or infer it with ``type_of_target``."""
    if task is not None and task not in TASKS:
        raise CompareError(f"task must be one of {TASKS} or None; got {task!r}")
    kind = type_of_target(y)
    if task is None:
        if kind in ("binary", "multiclass"):
            task = "classification"
        elif kind in ("continuous", "continuous-multioutput"):
            task = "regression"
        else:
            raise CompareError(
                f"cannot infer the task from a {kind!r} target; pass "
                f"task (--task) 'classification' or 'regression'"
            )
        y_array = np.asarray(y)
        n_classes = len(np.unique(y_array)) if task == "classification" else 0
        if n_classes > 20 and y_array.dtype.kind in "iuf":
            warnings.warn(
                f"y has {n_classes} distinct integer values and is treated as "
                f"class labels; pass task='regression' (--task regression) if "
                f"it is a quantity",
                UserWarning,
                stacklevel=3,
            )
    elif task == "classification" and kind not in ("binary", "multiclass"):
        raise CompareError(
            f"a classification task needs class labels, but the target is "
            f"{kind!r}; use task (--task) 'regression'"
        )
    elif task == "regression":
        try:
            np.asarray(y, dtype=float)
        except (TypeError, ValueError):
            raise CompareError(
                "a regression task needs a numeric target, but the target has "
                "non-numeric values; use task (--task) 'classification'"
            ) from None
    return task


# --------------------------------------------------------------- the grid
def _split_names(spec):
    if isinstance(spec, str):
        return [part.strip() for part in spec.split(",")]
    return list(spec)


def _label(spec):
    return spec if isinstance(spec, str) else repr(spec)


def _canonical_names(registry):
    """Registered names, each (class, defaults) once: aliases are dropped.

    Among names sharing a class and defaults, the one spelling the class name in
    snake case is kept (``log_loss`` for ``LogLoss``, not ``cross_entropy``).
    """
    groups = {}
    for name, cls, defaults in registry.items():
        groups.setdefault((cls, tuple(sorted(defaults.items()))), []).append(name)
    keep = set()
    for (cls, _), names in groups.items():
        snake = "".join(
            "_" + c.lower() if c.isupper() and i else c.lower()
            for i, c in enumerate(cls.__name__)
        )
        keep.add(snake if snake in names else names[0])
    return [name for name in registry.names() if name in keep]


def _resolve_losses(losses, task, y):
    valid = [n for n, cls, _ in LOSSES.items() if task in cls.tasks]
    if losses is None or _split_names(losses) == ["all"]:
        if losses is None:
            names = DEFAULT_LOSSES[task]
        else:
            names = [n for n in _canonical_names(LOSSES) if n in valid]
        chosen = [name for name in names if _target_ok(name, task, y)]
        skipped = [name for name in names if name not in chosen]
        return chosen, skipped
    specs = _split_names(losses)
    if not specs:
        raise CompareError("no loss given")
    for spec in specs:
        if isinstance(spec, str):
            if spec not in LOSSES.names():
                raise CompareError(
                    f"unknown loss {spec!r}; valid {task} losses: {', '.join(valid)}"
                    f" (or 'all')"
                )
            tasks = LOSSES.create(spec, "loss").tasks
        elif isinstance(spec, Loss):
            tasks = spec.tasks
        else:
            raise CompareError(
                f"a loss must be a name or a Loss instance; got {spec!r}"
            )
        if task not in tasks:
            raise CompareError(
                f"loss {_label(spec)!r} is a {'/'.join(sorted(tasks))} loss, not "
                f"valid for {task}; valid {task} losses: {', '.join(valid)}"
            )
    return specs, []


def _target_ok(name, task, y):
    """False if ``y`` is outside the loss's domain (Poisson needs y >= 0)."""
    if task != "regression":
        return True
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    try:
        LOSSES.create(name, "loss").check_target(Y)
    except ValueError:
        return False
    return True


def _resolve_optimizers(optimizers):
    if optimizers is None:
        return list(DEFAULT_OPTIMIZERS)
    specs = _split_names(optimizers)
    if specs == ["all"]:
        return _canonical_names(OPTIMIZERS)
    if not specs:
        raise CompareError("no optimizer given")
    for spec in specs:
        if isinstance(spec, str):
            if spec not in OPTIMIZERS.names():
                raise CompareError(
                    f"unknown optimizer {spec!r}; valid optimizers: "
                    f"{', '.join(OPTIMIZERS.names())} (or 'all')"
                )
        elif not isinstance(spec, Optimizer):
            raise CompareError(
                f"an optimizer must be a name or an Optimizer instance; got {spec!r}"
            )
    return specs


def _resolve_learning_rates(learning_rates):
    if learning_rates is None:
        return None
    if isinstance(learning_rates, str | numbers.Real):
        learning_rates = [learning_rates]
    rates = list(learning_rates)
    if not rates:
        raise CompareError("learning_rates is empty")
    for rate in rates:
        ok = rate == "auto" or (
            isinstance(rate, numbers.Real)
            and not isinstance(rate, bool)
            and math.isfinite(rate)
            and rate > 0
        )
        if not ok:
            raise CompareError(
                f"a learning rate must be a number > 0 or 'auto'; got {rate!r}"
            )
    return [r if r == "auto" else float(r) for r in rates]


# -------------------------------------------------------------- the result
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
            "(L-BFGS: iterations); not converged (k/n): ConvergenceWarning, "
            "max_iter reached, in k of the n folds; failed: the error a fold "
            "raised (its score would be nan in GridSearchCV)."
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


def _fmt_rate(rate):
    return rate if isinstance(rate, str) else f"{rate:g}"


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


# ----------------------------------------------------------------- running
def _evaluate(index, estimator, X, y, splits, curve):
    """Cross-validate one candidate (runs in a joblib worker with ``n_jobs``).

    Warnings are recorded here, inside the process that fits, so that
    ``ConvergenceWarning`` is seen with process-based joblib backends (loky, the
    default, multiprocessing, dask). ``warnings.catch_warnings`` is not
    thread-safe: under a forced ``threading`` backend the flags may be wrong.
    """
    start = time.perf_counter()
    result = {"index": index, "error": None, "error_type": None, "curve": None}
    # These products are tiny: multi-threaded BLAS only adds overhead, and
    # L-BFGS-B's small BLAS calls slow down by 10-50x on a busy machine.
    with threadpool_limits(limits=1, user_api="blas"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                # error_score="raise": a failed fold makes the candidate's mean
                # nan in GridSearchCV(error_score=np.nan) anyway; raising keeps
                # the exception's type (cross_validate would turn it into text,
                # or into a ValueError when every fold fails).
                cv = cross_validate(
                    estimator,
                    X,
                    y,
                    cv=splits,
                    error_score="raise",
                    return_train_score=False,
                    return_estimator=True,
                )
            except Exception as exc:  # reported, not raised
                cv = None
                result["error_type"] = type(exc).__name__
                result["error"] = str(exc).strip().splitlines()[0] if str(exc) else ""
        if cv is not None:
            result["scores"] = [float(s) for s in cv["test_score"]]
            result["fit_times"] = [float(t) for t in cv["fit_time"]]
            result["n_iter"] = [
                float(getattr(est[-1], "n_iter_", np.nan)) for est in cv["estimator"]
            ]
        result["not_converged"] = sum(
            issubclass(w.category, ConvergenceWarning) for w in caught
        )
        if curve:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fitted = clone(estimator).fit(X, y)
                    result["curve"] = [float(v) for v in fitted[-1].loss_curve_]
                except Exception:  # that curve is left out
                    result["curve"] = None
    result["time"] = time.perf_counter() - start
    return result


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
    import os

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
    import matplotlib

    # Grid order (loss, then optimizer): colour = optimizer, line style = loss.
    ordered = sorted(rows, key=lambda r: r["index"])
    curves = [(r, r["loss_curve"]) for r in ordered if r.get("loss_curve")]
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
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
    if positive:
        ax.set_yscale("log")
    else:  # e.g. the Poisson objective exp(z) - y z can be negative
        ax.set_yscale("symlog")
    ax.set_xlabel("epoch (L-BFGS: iteration)")
    ax.set_ylabel("training objective" + ("" if positive else " (symlog)"))
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    if curves:
        ax.legend(
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            ncol=1 if len(curves) <= 30 else 2,
            frameon=False,
        )
    else:
        ax.text(0.5, 0.5, "no successful fit", ha="center", transform=ax.transAxes)
    fig.savefig(path, dpi=120)


def _count(n, word):
    plural = word + ("es" if word.endswith("s") else "s")
    return f"{n} {word if n == 1 else plural}"


def _progress(message, verbose):
    if verbose:
        print(message, file=sys.stderr, flush=True)


def compare(
    X=None,
    y=None,
    *,
    dataset="breast_cancer",
    csv=None,
    target=None,
    task=None,
    losses=None,
    optimizers=None,
    learning_rates=None,
    cv=5,
    max_iter=200,
    random_state=0,
    n_jobs=None,
    plot=None,
    verbose=True,
):
    """Cross-validate every loss x optimizer (x learning rate) and rank them.

    Each candidate is ``Pipeline([("scale", StandardScaler()), ("model",
    LinearNNClassifier or LinearNNRegressor)])`` with ``loss``, ``optimizer``
    and (when given) ``learning_rate_init`` set from the grid,
    ``max_iter=max_iter``, ``random_state=random_state`` and every other
    parameter at its default. The grid is iterated with ``ParameterGrid`` and
    each point is cross-validated with ``cross_validate`` on the splits of
    ``check_cv(cv, y, classifier=...)`` (unshuffled (Stratified)KFold for an
    int), scored with the estimator's ``score`` (accuracy, R^2). This is
    equivalent to ``GridSearchCV(pipe, grid, cv=cv, refit=False,
    error_score=np.nan, return_train_score=False)``: same estimators, same
    folds, same scores, a failed candidate scores nan and ranks last. It is
    done per candidate so that the fitted models' ``n_iter_``, the
    ``ConvergenceWarning`` of each fold and the type of a failure's exception
    can be recorded, which ``GridSearchCV`` does not keep.

    Parameters
    ----------
    X, y : array-like, optional
        Data to use. When omitted, ``dataset`` (or ``csv``) provides them.
    dataset : {"breast_cancer", "digits", "iris", "wine", "diabetes"}, \
            default="breast_cancer"
        A dataset bundled with scikit-learn (``sklearn.datasets.load_*``);
        ``diabetes`` is a regression problem, the others classification.
    csv : path-like, optional
        A CSV file with a header row (read with the :mod:`csv` module): the
        ``target`` column is ``y``, every other column a numeric feature. The
        target may hold strings (class labels).
    target : str, optional
        The target column of ``csv`` (required with it).
    task : {"classification", "regression"}, optional
        Inferred from ``y`` when None: binary or multiclass labels ->
        classification, continuous values -> regression (an integer-valued
        quantity looks like class labels: pass ``task="regression"``).
    losses : list of str or Loss, or "all", optional
        Default: every loss of the task (classification: log_loss, hinge,
        squared_hinge, modified_huber, perceptron, squared_error; regression:
        squared_error, absolute_error, huber, epsilon_insensitive,
        squared_epsilon_insensitive, quantile and poisson, the latter only if
        ``y >= 0``). ``"all"`` is every registered loss of the task without
        aliases. A comma-separated string is accepted.
    optimizers : list of str or Optimizer, or "all", optional
        Default: sgd, momentum, adam, rmsprop, adagrad, lbfgs. ``"all"`` is
        every registered optimizer.
    learning_rates : list of float or "auto", optional
        ``learning_rate_init`` values to compare as a third grid axis; default:
        not searched (each optimizer's automatic step).
    cv : int or cross-validation splitter, default=5
    max_iter : int, default=200
        Epochs (L-BFGS: iterations) per fit.
    random_state : int, default=0
        The estimators' ``random_state`` (minibatch shuffling).
    n_jobs : int, optional
        Candidates cross-validated in parallel (joblib); None is 1.
    plot : path-like, optional
        Save a figure of the training objective per epoch (``loss_curve_``)
        of one fit per candidate on the whole standardized data, log-scale y.
        Needs matplotlib (``pip install 'sklearn-nnopt[plot]'``).
    verbose : bool, default=True
        Print one progress line per candidate to stderr.

    Returns
    -------
    CompareResult
        ``rows`` ranked by mean score, descending; ``str(result)`` is the table.

    Raises
    ------
    CompareError
        (a ``ValueError``) for an invalid argument or unreadable data.
    ImportError
        If ``plot`` is given and matplotlib is not installed.

    Examples
    --------
    >>> from sklearn_nnopt import compare
    >>> result = compare(
    ...     dataset="iris", losses=["log_loss", "hinge"], optimizers=["adam", "lbfgs"],
    ...     cv=2, max_iter=50, verbose=False,
    ... )
    >>> len(result.rows), result.task, result.n_splits
    (4, 'classification', 2)
    >>> result.best["mean_score"] > 0.9
    True
    """
    start = time.perf_counter()
    if plot is not None:
        check_plot_path(plot)  # fail before the work, not after
    if target is not None and csv is None:
        raise CompareError("target is only used with csv")
    if X is not None or y is not None:
        if X is None or y is None:
            raise CompareError("pass both X and y, or neither")
        if csv is not None:
            raise CompareError("pass X and y, or csv, not both")
        data, extra = "X, y", ""
    elif csv is not None:
        if target is None:
            raise CompareError("csv needs target: the name of the target column")
        X, y, _ = read_csv(csv, target)
        data, extra = str(csv), f", target {target!r}"
    else:
        X, y, known_task = load_dataset(dataset)
        task = known_task if task is None else task
        data, extra = str(dataset).strip().lower().replace("-", "_"), ""
    shape = np.shape(X)
    if len(shape) == 2:
        data += f" ({shape[0]} samples x {shape[1]} features{extra})"
    task = _infer_task(y, task)
    loss_specs, skipped = _resolve_losses(losses, task, y)
    optimizer_specs = _resolve_optimizers(optimizers)
    rates = _resolve_learning_rates(learning_rates)
    if not (isinstance(max_iter, numbers.Integral) and max_iter >= 1):
        raise CompareError(f"max_iter must be an int >= 1; got {max_iter!r}")
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv < 2:
        raise CompareError(f"cv must be >= 2; got {cv!r}")
    if n_jobs is not None and not (
        isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool) and n_jobs
    ):
        raise CompareError(f"n_jobs must be None or a non-zero int; got {n_jobs!r}")

    Model = LinearNNClassifier if task == "classification" else LinearNNRegressor
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("model", Model(max_iter=max_iter, random_state=random_state)),
        ]
    )
    grid = {"model__loss": loss_specs, "model__optimizer": optimizer_specs}
    if rates is not None:
        grid["model__learning_rate_init"] = rates
    candidates = [
        params
        for params in ParameterGrid(grid)
        # Pairs the estimator refuses (the perceptron with L-BFGS) are left out.
        if LOSSES.create(params["model__loss"], "loss").full_batch
        or OPTIMIZERS.create(params["model__optimizer"], "optimizer").stochastic
    ]
    try:
        splitter = check_cv(cv, y, classifier=is_classifier(pipe))
        splits = list(splitter.split(X, y))
    except ValueError as exc:
        raise CompareError(f"cv={cv!r}: {exc}") from None

    def describe(params):
        text = f"{_label(params['model__loss'])} x {_label(params['model__optimizer'])}"
        if rates is not None:
            text += f" (lr={_fmt_rate(params['model__learning_rate_init'])})"
        return text

    n = len(candidates)
    _progress(
        f"Cross-validating {_count(n, 'candidate')} "
        f"({_count(len(loss_specs), 'loss')} x "
        f"{_count(len(optimizer_specs), 'optimizer')}"
        + (f" x {_count(len(rates), 'learning rate')}" if rates is not None else "")
        + f") with {len(splits)} folds each on {data} ...",
        verbose,
    )
    jobs = (
        delayed(_evaluate)(
            i, clone(pipe).set_params(**params), X, y, splits, plot is not None
        )
        for i, params in enumerate(candidates)
    )
    results = [None] * n
    parallel = Parallel(
        n_jobs=n_jobs, prefer="processes", return_as="generator_unordered"
    )
    for done, result in enumerate(parallel(jobs), 1):
        results[result["index"]] = result
        params = candidates[result["index"]]
        if result["error_type"] is not None:
            outcome = f"failed: {result['error_type']} ({result['time']:.1f} s)"
        else:
            outcome = f"{np.mean(result['scores']):.3f} ({result['time']:.1f} s"
            outcome += ", not converged)" if result["not_converged"] else ")"
        _progress(f"[{done}/{n}] {describe(params)} ... {outcome}", verbose)

    rows = []
    for index, (params, result) in enumerate(zip(candidates, results, strict=True)):
        failed = result["error_type"] is not None
        scores = [] if failed else result["scores"]
        if failed:
            status = f"failed: {result['error_type']}"
        elif result["not_converged"]:
            status = "not converged"
        else:
            status = "ok"
        rows.append(
            {
                "rank": None,
                "index": index,
                "loss": _label(params["model__loss"]),
                "optimizer": _label(params["model__optimizer"]),
                "learning_rate": params.get("model__learning_rate_init", "auto"),
                "mean_score": float(np.mean(scores)) if scores else math.nan,
                "std_score": float(np.std(scores)) if scores else math.nan,
                "scores": scores,
                "mean_fit_time": math.nan
                if failed
                else float(np.mean(result["fit_times"])),
                "mean_n_iter": math.nan if failed else float(np.mean(result["n_iter"])),
                "not_converged_folds": 0 if failed else int(result["not_converged"]),
                "status": status,
                "error": result["error"],
                "params": params,
                "loss_curve": result["curve"],
            }
        )
    result = CompareResult(
        rows=_rank(rows),
        task=task,
        scoring="accuracy" if task == "classification" else "R^2",
        data=data,
        n_splits=len(splits),
        max_iter=max_iter,
        show_learning_rate=rates is not None,
        notes=[
            f"Skipped {name}: y is outside its domain (e.g. poisson needs y >= 0)."
            for name in skipped
        ],
    )
    if plot is not None:
        _save_plot(
            plot,
            result.rows,
            f"Training objective per epoch: one fit per candidate on the whole "
            f"standardized data\n{data}",
        )
        result.plot = str(plot)
    result.elapsed = time.perf_counter() - start
    return result
