"""Argument checks the input builders share: batch size, epochs, seed, int options, rows."""

import numbers

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _batching


def is_int(value):
  """Whether ``value`` is an int (a Python or NumPy integer; bools are not)."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(name, value):
  """An int > 0: a non-int is a TypeError, an int <= 0 a ValueError."""
  if not is_int(value):
    validation.fail(name, 'a positive int', value, error=exceptions.ArgumentTypeError)
  return validation.check_positive_int(name, value)


def validate_batch_size(batch_size):
  """A positive int; a non-int is a TypeError (as the legacy op conversion), None a ValueError."""
  if batch_size is not None and not is_int(batch_size):
    validation.fail('batch_size', 'a positive int', batch_size, error=exceptions.ArgumentTypeError)
  return validation.check_positive_int('batch_size', batch_size)


def validate_num_epochs(num_epochs):
  """None (repeat forever) or an int >= 0."""
  if num_epochs is None:
    return None
  if not is_int(num_epochs):
    validation.fail(
      'num_epochs',
      'None (repeat forever) or a non-negative int',
      num_epochs,
      error=exceptions.ArgumentTypeError,
    )
  if num_epochs < 0:
    validation.fail('num_epochs', 'None (repeat forever) or a non-negative int', num_epochs)
  return int(num_epochs)


def validate_seed(seed):
  """None or an int >= 0."""
  if seed is None:
    return None
  if not is_int(seed):
    validation.fail('seed', 'None or a non-negative int', seed, error=exceptions.ArgumentTypeError)
  if seed < 0:
    validation.fail('seed', 'None or a non-negative int', seed)
  return int(seed)


def check_rows(name, num_rows, error=exceptions.ArgumentError):
  """Refuses data without rows (nothing to read, and an endless loop when repeating)."""
  if num_rows == 0:
    raise error('%s must have at least one row, given: 0 rows' % name)


def check_shard_not_empty(num_rows, shard):
  """Refuses a shard with no rows: a worker with nothing to read would wait forever."""
  num_shards, index = shard
  if _batching.shard_size(num_rows, num_shards, index) == 0:
    raise exceptions.ArgumentError(
      'the data must have at least one row per input pipeline, given: %d rows for %d '
      'pipelines (this is pipeline %d). Use fewer workers or more data'
      % (num_rows, num_shards, index)
    )
