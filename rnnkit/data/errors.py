"""`DataError`: bad user data (missing file, non-numeric column...), one-line message."""


class DataError(ValueError):
    """Raised for problems with user-supplied data; `str(err)` is one line."""
