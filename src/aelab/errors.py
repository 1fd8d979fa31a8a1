"""Errors a user can act on.

Anything raised as an :class:`AelabError` is shown by the CLI as one line, ``aelab: error: ...``,
with a non-zero exit status. The message says what was wrong and what to do about it.
"""


class AelabError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class DataError(AelabError, ValueError):
    """The data cannot be read or is not fit for the requested operation."""


class NotNumericError(DataError, TypeError):
    """The data holds values that are not numbers."""


class ParameterError(AelabError, ValueError):
    """An estimator or command was given a parameter value it does not take."""


class ModelError(AelabError, ValueError):
    """A saved model is missing, damaged, or does not fit the data given to it."""


class OutputExistsError(AelabError, FileExistsError):
    """Writing would replace an existing result."""


class OutputBusyError(AelabError, BlockingIOError):
    """Another aelab run is writing the same result."""


class MissingExtraError(AelabError, ImportError):
    """An optional package that this request needs is not installed."""


def require(module: str, extra: str):
    """Import ``module`` (a package of one of aelab's optional extras), or raise a one-line
    :class:`MissingExtraError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"this needs the package {module.split('.')[0]}, which is not installed; install it with "
            f"pip install 'aelab[{extra}]'"
        ) from None
