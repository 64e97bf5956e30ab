"""Small argument checks shared by every module.

Each check raises an error from :mod:`tfest_adapters.exceptions` whose message names the
argument, says what was expected and shows what was given, in the form
``'batch_size must be a positive int, given: 0'``, followed by a suggested fix where there
is one. Checks return the value they accept so that they can be chained in assignments.
"""

import numbers

from tfest_adapters import exceptions


def describe(value, limit=80):
  """Returns a short, readable rendering of ``value`` for an error message."""
  shape = getattr(value, 'shape', None)
  dtype = getattr(value, 'dtype', None)
  if shape is not None and dtype is not None and not isinstance(value, numbers.Number):
    return '%s of shape %s and dtype %s' % (type(value).__name__, tuple(shape), dtype)
  text = repr(value)
  if len(text) > limit:
    text = text[: limit - 3] + '...'
  if isinstance(value, (str, bytes, bool, numbers.Number, type(None))):
    return text
  return '%s (%s)' % (text, type(value).__name__)


def message(name, expected, value, fix=None):
  """Formats ``'<name> must be <expected>, given: <value>. <fix>'``."""
  text = '%s must be %s, given: %s' % (name, expected, describe(value))
  if fix:
    text += '. ' + fix
  return text


def fail(name, expected, value, fix=None, error=exceptions.ArgumentError):
  """Raises ``error`` with :func:`message`."""
  raise error(message(name, expected, value, fix))


def _is_int(value):
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name, value, fix=None):
  """Accepts an int > 0 (bools are refused)."""
  if not _is_int(value) or value <= 0:
    fail(name, 'a positive int', value, fix)
  return int(value)


def check_non_negative_int(name, value, fix=None):
  """Accepts an int >= 0 (bools are refused)."""
  if not _is_int(value) or value < 0:
    fail(name, 'a non-negative int', value, fix)
  return int(value)


def check_optional_positive_int(name, value, fix=None):
  """Accepts None or an int > 0."""
  return None if value is None else check_positive_int(name, value, fix)


def check_bool(name, value, fix=None):
  """Accepts True or False only (not 0/1, not None)."""
  if not isinstance(value, bool):
    fail(name, 'a bool', value, fix, error=exceptions.ArgumentTypeError)
  return value


def check_positive_number(name, value, fix=None):
  """Accepts a finite real number > 0."""
  if (
    not isinstance(value, numbers.Real)
    or isinstance(value, bool)
    or not value > 0
    or value != value
    or value == float('inf')
  ):
    fail(name, 'a positive finite number', value, fix)
  return value


def check_one_of(name, value, choices, fix=None):
  """Accepts one of ``choices``."""
  if value not in choices:
    fail(name, 'one of %s' % ', '.join(repr(c) for c in choices), value, fix)
  return value


def check_callable(name, value, fix=None):
  """Accepts a callable."""
  if not callable(value):
    fail(name, 'callable', value, fix, error=exceptions.ArgumentTypeError)
  return value
