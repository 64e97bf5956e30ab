"""Errors for the few invalid inputs the legacy input functions reject by accident.

``tf.compat.v1.estimator.inputs.numpy_input_fn`` and ``pandas_input_fn`` reject some inputs
not with a check of their own but with whatever their internals trip over: an
``AttributeError`` for a list where an array was expected, an ``IndexError`` for a 0-d array,
a ``ZeroDivisionError`` for empty data. Code written against them may catch those types, so
the drop-in replacements raise errors that are instances of the same built-in types, and also
of the project's :class:`~tfest_adapters.exceptions.TfestError` family, with a message that
says what is wrong instead of where it crashed.
"""

from tfest_adapters import exceptions


class InputAttributeError(exceptions.ArgumentTypeError, AttributeError):
  """An input has the wrong type, where the legacy function raised AttributeError."""


class InputIndexError(exceptions.ArgumentError, IndexError):
  """An input has no rows dimension, where the legacy function raised IndexError."""


class InputZeroDivisionError(exceptions.ArgumentError, ZeroDivisionError):
  """An input or capacity is empty, where the legacy function raised ZeroDivisionError."""
