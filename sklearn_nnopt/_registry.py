"""Name registries shared by losses and optimizers."""

from sklearn.base import clone


class Registry:
    """Map registered names to ``(class, keyword defaults)``.

    Parameters
    ----------
    kind : str
        What the registry holds ("loss", "optimizer"), used in error messages.
    base : type
        The base class every registered class and accepted instance derives from.
    """

    def __init__(self, kind, base):
        self.kind = kind
        self.base = base
        self._entries = {}
        self._candidates = []

    def register(self, name, *, candidate=False, **defaults):
        """Class decorator registering ``cls(**defaults)`` under ``name``.

        ``candidate=True`` also lists ``name`` in :meth:`candidates` (the
        default grid of ``compare``); it is not passed to the class, so a class
        cannot take a registered default named ``candidate``.
        """

        def decorator(cls):
            if name in self._entries:
                raise ValueError(f"{self.kind} name {name!r} is already registered")
            self._entries[name] = (cls, defaults)
            if candidate:
                self._candidates.append(name)
            return cls

        return decorator

    def names(self, *, sort=True):
        """Registered names, sorted, or in registration order if not ``sort``.

        Stacked decorators run bottom-up: of the names registered on one class,
        the one nearest the ``class`` line is registered first.
        """
        return sorted(self._entries) if sort else list(self._entries)

    def candidates(self):
        """The names registered with ``candidate=True``, in registration order."""
        return list(self._candidates)

    def items(self):
        """``(name, class, defaults)`` for every registered name."""
        return [(n, *self._entries[n]) for n in self.names()]

    def create(self, spec, param_name):
        """Return a fresh instance for a registered name or an instance.

        An instance is cloned so that the caller's object is never mutated.
        """
        if isinstance(spec, str):
            try:
                cls, defaults = self._entries[spec]
            except KeyError:
                raise ValueError(
                    f"Unknown {self.kind} {spec!r} for parameter {param_name!r}; "
                    f"valid names are {self.names()} or an instance of "
                    f"{self.base.__name__}."
                ) from None
            return cls(**defaults)
        if isinstance(spec, self.base):
            return clone(spec)
        raise TypeError(
            f"Parameter {param_name!r} must be a string among {self.names()} or an "
            f"instance of {self.base.__name__}; got {spec!r} of type "
            f"{type(spec).__name__}."
        )

    def __iter__(self):
        """Iterate over the registered names, sorted (``sorted(SCHEDULES)``)."""
        return iter(self.names())

    def __contains__(self, name):
        return isinstance(name, str) and name in self._entries
