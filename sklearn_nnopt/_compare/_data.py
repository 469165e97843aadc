"""The data of ``compare``: bundled datasets, CSV files and the task."""

import csv
import io
import math
import warnings

import numpy as np
from sklearn.utils.multiclass import type_of_target

from ._errors import CompareError

#: Bundled datasets: name -> (``sklearn.datasets`` loader, task).
DATASETS = {
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}

TASKS = ("classification", "regression")

_MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}


def load_data(X, y, *, dataset, csv, target, task):
    """Return ``X, y, task, data`` from ``X, y``, a CSV file or a bundled dataset.

    ``task`` is the bundled dataset's own unless given (else it is returned
    unchanged: :func:`_infer_task` checks or infers it); ``data`` describes what
    is cross-validated, e.g. ``"iris (150 samples x 4 features)"``.
    """
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
    return X, y, task, data


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
    header, rows, lines = _read_rows(path)
    _check_table(path, target, header, rows, lines)
    t = header.index(target)
    features = [j for j in range(len(header)) if j != t]
    X = _features(path, header, features, rows, lines)
    y = _target(path, target, [row[t] for row in rows], lines)
    return X, y, [header[j] for j in features]


def _read_rows(path):
    """The header, the non-blank rows (stripped cells) and their line numbers."""
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
    return rows[0], rows[1:], lines[1:]


def _check_table(path, target, header, rows, lines):
    """Raise :class:`CompareError` unless the table has the target and is square."""
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


def _features(path, header, features, rows, lines):
    """The feature columns as a float matrix; every cell must be a finite number."""
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
    return X


def _target(path, target, labels, lines):
    """The target column: floats if every value is a number, else strings."""
    for label, line in zip(labels, lines, strict=True):
        if label.lower() in _MISSING:
            raise CompareError(
                f"target column {target!r} of {str(path)!r} has a missing value "
                f"(line {line}); drop that row"
            )
    numbers_ = [_parse_float(label) for label in labels]
    if all(v is not None and math.isfinite(v) for v in numbers_):
        return np.asarray(numbers_, dtype=float)
    return np.asarray(labels, dtype=str)


def _infer_task(y, task):
    """Validate ``task`` against ``y``, or infer it with ``type_of_target``."""
    if task is not None and task not in TASKS:
        raise CompareError(f"task must be one of {TASKS} or None; got {task!r}")
    kind = type_of_target(y)
    if kind == "multilabel-indicator":
        # The estimators fit it (one binary problem per label); compare's
        # scores, reference and tables are written for one output.
        raise CompareError(
            "compare does not support multilabel targets yet (a 0/1 indicator "
            "matrix); fit LinearNNClassifier on it directly, e.g. in "
            "GridSearchCV over loss and optimizer"
        )
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
