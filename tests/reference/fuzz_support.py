"""What the fuzz tests (tests/layers/test_fuzz_layers.py, tests/models/test_fuzz_models.py)
accept as an outcome: a correct result, or a ValueError/TypeError whose message is rnnkit's own.

An error is "clear" when it is a ValueError or TypeError and its message is not one of
Python's or JAX's internal messages (those name an implementation detail, not the user's
mistake). Any other exception type (KeyError, AttributeError, IndexError, JAX errors, ...)
fails the test as it is raised.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, settings

# Messages that come from Python or JAX internals, never from a check at rnnkit's boundary.
INTERNAL_MESSAGES = re.compile(
    r"object of type '\w+' has no len\(\)|'NoneType' object is not|unsupported operand|"
    r"object is not (iterable|subscriptable|callable)|abstract array|not a valid JAX type|"
    r"takes \d+ positional argument|got an unexpected keyword|cannot reshape array|"
    r"Incompatible shapes for broadcasting|dot_general requires|must be a str, not|"
    r"invalid literal for int\(\)"
)

FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_clear(error: BaseException) -> None:
    """`error` is a ValueError/TypeError with a message written for the user."""
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    message = str(error)
    assert len(message) >= 20, f"too short to say what was expected: {message!r}"
    assert not INTERNAL_MESSAGES.search(message), f"internal message: {message!r}"


def outcome(call):
    """`(result, None)` or `(None, error)` for a ValueError/TypeError; others propagate."""
    try:
        return call(), None
    except (ValueError, TypeError) as e:
        return None, e
