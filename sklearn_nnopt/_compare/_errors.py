"""The exception every module of ``compare`` raises for invalid input."""


class CompareError(ValueError):
    """An argument or input of :func:`compare` is invalid (one-line message)."""

    # Where it is imported from (and was defined before the split): tracebacks
    # name it sklearn_nnopt._compare.CompareError.
    __module__ = "sklearn_nnopt._compare"
