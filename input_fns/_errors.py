"""Errors of the built-in types the legacy input functions raised by accident.

``numpy_input_fn`` and ``pandas_input_fn`` raise these where ``tf.compat.v1.estimator.inputs``
crashed in its internals, so that code catching those types still does; they are also
:class:`~tfest_adapters.exceptions.TfestError`, with a message that says what is wrong.
"""

from tfest_adapters import exceptions


class InputAttributeError(exceptions.ArgumentTypeError, AttributeError):
  """An input has the wrong type, where the legacy function raised AttributeError."""


class InputIndexError(exceptions.ArgumentError, IndexError):
  """An input has no rows dimension, where the legacy function raised IndexError."""


class InputZeroDivisionError(exceptions.ArgumentError, ZeroDivisionError):
  """An input or capacity is empty, where the legacy function raised ZeroDivisionError."""
