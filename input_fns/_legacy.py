"""What the drop-ins for the legacy ``tf.compat.v1.estimator.inputs`` functions share.

Their legacy-only arguments (``shuffle``, ``queue_capacity``, ``num_threads``) and the input_fn
they return over checked columns, used by ``numpy_input_fn`` and ``pandas_input_fn``.
"""

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _errors
from tfest_adapters.input_fns import _grouping
from tfest_adapters.input_fns import _sharding

_SHUFFLE_MESSAGE = (
  'shuffle must be provided and explicitly set as boolean '
  '(it is recommended to set it as True for training); got {}'
)


def validate_shuffle(shuffle):
  """The legacy check, with the legacy text."""
  if not isinstance(shuffle, bool):
    raise exceptions.ArgumentError(_SHUFFLE_MESSAGE.format(shuffle))
  return shuffle


def validate_queue_capacity(queue_capacity, allow_none=False):
  """A positive int (None too for pandas, where it means "the number of rows")."""
  if queue_capacity is None and allow_none:
    return None
  if _checks.is_int(queue_capacity) and queue_capacity == 0:
    # The legacy function divides by the capacity when it builds its queue summary.
    raise _errors.InputZeroDivisionError(
      validation.message('queue_capacity', 'a positive int', queue_capacity)
    )
  return _checks.positive_int('queue_capacity', queue_capacity)


def validate_num_threads(num_threads):
  """A positive int. It never changes what is read: the legacy one multiplied the epochs."""
  return _checks.positive_int('num_threads', num_threads)


def prefetch_batches(queue_capacity, batch_size):
  """The legacy queue held ``queue_capacity`` rows; prefetch as many, in whole batches."""
  return max(1, -(-queue_capacity // batch_size))


def make_input_fn(
  arrays, dtypes, rebuild, num_rows, batch_size, num_epochs, shuffle, seed, prefetch, steps_per_run
):
  """The input_fn of the drop-ins over checked columns (see ``_arrays.make_dataset``).

  Unlike ``tensor_slices_input_fn`` it ignores ``mode``: the legacy functions read the same
  way in every mode. ``mode`` still decides the worker shard and grouping by
  ``steps_per_run``.
  """
  call_seeds = _batching.CallSeeds(seed)
  store = _arrays.ColumnStore(arrays, dtypes)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    shard = _sharding.resolve(mode, config, input_context)
    _checks.check_shard_not_empty(num_rows, shard)
    return _grouping.make_group_dataset(
      store,
      dtypes,
      rebuild,
      batch_size,
      num_epochs,
      shuffle,
      seed=call_seeds.next() if shuffle else None,
      shard=shard,
      prefetch=prefetch,
      steps_per_run=groups.steps_per_run_of(mode, params, steps_per_run),
    )

  return input_fn
