"""``numpy_input_fn``: the legacy ``tf.compat.v1.estimator.inputs.numpy_input_fn``, on tf.data.

A drop-in replacement: same arguments and defaults, same structure out, the same batches in
the same order without shuffling, the same errors for the inputs the legacy function rejects;
but no queue runners, no arrays in the graph, and a pipeline that keeps up with the Estimator.
"""

import collections
import numbers

import numpy as np
import tensorflow as tf

from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters import exceptions
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _errors
from tfest_adapters.input_fns import _grouping
from tfest_adapters.input_fns import _sharding

# The legacy key of an array `x` in its internal dict; it appears in its error messages.
_DIRECT_INPUT_KEY = '__direct_np_input__'
_TARGET_KEY = '__target_key__'

_SHUFFLE_MESSAGE = ('shuffle must be provided and explicitly set as boolean '
                    '(it is recommended to set it as True for training); got {}')


def validate_shuffle(shuffle):
  """The legacy check, with the legacy text."""
  if not isinstance(shuffle, bool):
    raise exceptions.ArgumentError(_SHUFFLE_MESSAGE.format(shuffle))
  return shuffle


def validate_queue_capacity(queue_capacity, allow_none=False):
  """A positive int (None too for pandas, where it means "the number of rows")."""
  if queue_capacity is None and allow_none:
    return None
  if not isinstance(queue_capacity, numbers.Integral) or isinstance(queue_capacity, bool):
    validation.fail('queue_capacity', 'a positive int', queue_capacity,
                     error=exceptions.ArgumentTypeError)
  if queue_capacity == 0:
    # The legacy function divides by the capacity when it builds its queue summary.
    raise _errors.InputZeroDivisionError(
        validation.message('queue_capacity', 'a positive int', queue_capacity))
  return validation.check_positive_int('queue_capacity', queue_capacity)


def validate_num_threads(num_threads):
  """A positive int. It never changes what is read (see numpy_input_fn)."""
  if not isinstance(num_threads, numbers.Integral) or isinstance(num_threads, bool):
    validation.fail('num_threads', 'a positive int', num_threads,
                     error=exceptions.ArgumentTypeError)
  return validation.check_positive_int('num_threads', num_threads)


def prefetch_batches(queue_capacity, batch_size):
  """The legacy queue held ``queue_capacity`` rows; prefetch as many, in whole batches."""
  return max(1, -(-queue_capacity // batch_size))


def _first_dim(name, value):
  """``value.shape[0]``, with a clear error where the legacy function crashed."""
  shape = getattr(value, 'shape', None)
  if shape is None:
    raise _errors.InputAttributeError(validation.message(
        name, 'a numpy array', value, 'Convert it with np.asarray'))
  if len(shape) == 0:  # pylint: disable=g-explicit-length-test
    raise _errors.InputIndexError(validation.message(
        name, 'an array with a first (rows) dimension', value,
        'A single example is an array of shape [1, ...]'))
  return shape[0]


def _name_of(key, target_keys, y):
  if key == _DIRECT_INPUT_KEY:
    return 'x'
  if isinstance(target_keys, str) and key == target_keys:
    return 'y'
  if isinstance(y, dict) and key in y:
    return 'y[%r]' % (key,)
  return 'x[%r]' % (key,)


def _legacy_columns(x, y):
  """Validates ``x`` and ``y`` as the legacy input_fn does, in the same order.

  Returns:
    (ordered dict of all columns, feature keys, target keys) where target keys is None, the
    internal key of an array ``y``, or the sorted list of the keys of a dict ``y``.
  """
  # _validate_and_convert_features.
  if isinstance(x, dict):
    if not x:
      raise exceptions.ArgumentError('x cannot be an empty dict')
    data = collections.OrderedDict(sorted(x.items(), key=lambda t: t[0]))
  elif isinstance(x, np.ndarray):
    if x.size == 0:
      raise exceptions.ArgumentError('x cannot be an empty array')
    data = collections.OrderedDict({_DIRECT_INPUT_KEY: x})
  else:
    raise exceptions.ArgumentTypeError(
        'x must be a dict or array; got {}'.format(type(x).__name__))
  feature_keys = list(data.keys())

  if y is None:
    target_keys = None
  elif isinstance(y, dict):
    if not y:
      raise exceptions.ArgumentError('y cannot be empty dict, use None instead.')
    ordered_y = collections.OrderedDict(sorted(y.items(), key=lambda t: t[0]))
    target_keys = list(ordered_y.keys())
    duplicate_keys = set(feature_keys).intersection(set(target_keys))
    if duplicate_keys:
      raise exceptions.ArgumentError('{} duplicate keys are found in both x and y: '
                                     '{}'.format(len(duplicate_keys), duplicate_keys))
    data.update(ordered_y)
  else:
    target_keys = _TARGET_KEY
    while target_keys in data:
      target_keys += '_n'
    data[target_keys] = y

  lengths = set(_first_dim(_name_of(k, target_keys, y), v) for k, v in data.items())
  if len(lengths) != 1:
    shape_dict_of_x = {k: data[k].shape for k in feature_keys}
    if target_keys is None:
      shape_of_y = None
    elif isinstance(target_keys, str):
      shape_of_y = y.shape
    else:
      shape_of_y = {k: data[k].shape for k in target_keys}
    raise exceptions.ArgumentError(
        'Length of tensors in x and y is mismatched. All '
        'elements in x and y must have the same length.\n'
        'Shapes in x: {}\n'
        'Shapes in y: {}\n'.format(shape_dict_of_x, shape_of_y))
  # Past the legacy checks: an object column must hold strings, or the first batch fails
  # deep in tf.data ("Unsupported object type dict").
  for key, value in data.items():
    if getattr(value, 'dtype', None) is not None and value.dtype.kind == 'O':
      _columns.checked_objects(_name_of(key, target_keys, y), np.asarray(value))
  return data, feature_keys, target_keys


def numpy_input_fn(x, y=None, batch_size=128, num_epochs=1, shuffle=None,
                   queue_capacity=1000, num_threads=1, *, seed=None, steps_per_run=None):
  """Returns an input_fn that feeds a dict of numpy arrays (or one array) to an Estimator.

  A drop-in replacement for ``tf.compat.v1.estimator.inputs.numpy_input_fn``, built on
  ``tf.data`` without queue runners and without copying the arrays into the graph (they are
  read batch by batch from Python; see ``tfest_adapters.input_fns``), so that it scales to
  arrays of many GB and runs several times faster. Same arguments and defaults, same output
  structure, and, with ``shuffle=False``, the same batches in the same order: batches run on
  across epoch boundaries, the last one is short when ``num_epochs`` is an int, every batch
  is full when it is None, and there is none for ``num_epochs=0``. Every input the legacy
  function rejects raises an exception of the same type; with the same message where the
  legacy function checks the input itself, with a clearer one where it crashed in its
  internals (see Raises).

  Differences, all deliberate:

  * ``seed`` (new, keyword-only) makes shuffling reproducible. Python's global ``random`` is
    never reseeded (the legacy function calls ``random.seed(None)`` on every call). Call
    ``k`` of the input_fn is seeded with ``(seed, k)``: the same calls give the same data,
    and successive ``estimator.train()`` calls read on instead of replaying the same batches.
  * Shuffling is a full permutation of the rows every epoch, not a 1000-row window
    (``queue_capacity``) of the data in order.
  * ``num_threads`` is accepted and validated but never changes what is read: the legacy
    function read ``num_epochs`` epochs per thread, so ``num_threads=4`` meant 4 epochs.
  * ``queue_capacity`` sets how many rows are prepared ahead of the model (rounded up to
    whole batches).
  * The returned input_fn returns a ``tf.data.Dataset`` instead of tensors; the Estimator
    accepts either, and a direct caller iterates it (e.g. with
    ``tf.compat.v1.data.make_one_shot_iterator`` in a graph; no feeds, no queue runners).
  * In multi-worker training (TRAIN mode with ``TF_CONFIG`` or an ``input_context``), each
    worker reads its own disjoint shard of the rows.
  * Invalid ``batch_size``, ``num_epochs``, ``queue_capacity``, ``num_threads`` and ``seed``
    are refused when the builder is called (the legacy function hung, or read nothing, on a
    zero batch size, zero threads or a negative number of epochs); every invalid ``x``/``y``
    too, instead of when the Estimator calls the input_fn.

  Example:

  ```python
  import numpy as np
  from tfest_adapters.input_fns import numpy_input_fn

  x = {'age': np.arange(4.0), 'height': np.arange(32.0, 36.0)}
  y = np.arange(-32, -28)
  eval_input_fn = numpy_input_fn(x, y, batch_size=2, shuffle=False)
  for features, labels in eval_input_fn():  # Eagerly here; an Estimator reads it in its graph.
    print(features['age'].numpy(), labels.numpy())  # [0. 1.] [-32 -31], then [2. 3.] [-30 -29]
  train_input_fn = numpy_input_fn(x, y, batch_size=2, num_epochs=None, shuffle=True, seed=0)
  # estimator.train(train_input_fn, steps=100); estimator.evaluate(eval_input_fn)
  ```

  Args:
    x: numpy array, or dict of numpy arrays, with the same first (rows) dimension. An
      array is a single feature.
    y: numpy array, dict of numpy arrays, or None.
    batch_size: int > 0, rows per batch.
    num_epochs: int >= 0, epochs to read, or None to read forever.
    shuffle: bool, required. True reads a new random permutation of the rows every epoch.
    queue_capacity: int > 0, rows prepared ahead of the model.
    num_threads: int > 0; accepted for compatibility (see above).
    seed: int >= 0 or None (keyword-only). Seeds the shuffling. Shuffled reading copies the
      columns of one dtype (up to 256 MiB) once into a row-major matrix (see
      ``tfest_adapters.input_fns._arrays``); bigger data is read in place.
    steps_per_run: None (default) or int > 0 (keyword-only). In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, gathered at once, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it). EVAL and
      PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, which the
    Estimator calls with
    what it has; callable with no arguments too. It returns a ``tf.data.Dataset`` whose
    elements are, in every mode:

    * ``features``: a dict of tensors keyed (and ordered) like ``sorted(x)``, or one tensor
      when ``x`` is an array; each ``[batch] + shape[1:]`` of the column's dtype;
    * followed, when ``y`` is not None, by ``labels``: a tensor when ``y`` is an array, a
      dict like ``sorted(y)`` when it is a dict. The element is ``features`` alone when
      ``y`` is None.

    TRAIN, EVAL and PREDICT read the same data; sharding applies in TRAIN only (or
    whenever an ``input_context`` asks for it).

  Raises:
    ValueError: ``shuffle`` is not a bool; ``x`` or ``y`` is an empty dict or array; keys
      are in both ``x`` and ``y``; lengths differ; an int argument is out of range.
    TypeError: ``x`` is not a dict or array; a column's dtype has no TensorFlow dtype; an
      int argument is not an int.
    AttributeError, IndexError, ZeroDivisionError: where the legacy function raised them
      (a list instead of an array, a 0-d array, data without rows, ``queue_capacity=0``);
      these are also ``tfest_adapters.TfestError`` with a clear message.
  """
  validate_shuffle(shuffle)
  data, feature_keys, target_keys = _legacy_columns(x, y)
  # The legacy queue's dtypes, in its order: the same TypeError for an unsupported dtype.
  dtypes = [tf.dtypes.as_dtype(np.asarray(v).dtype) for v in data.values()]
  batch_size = _arrays.validate_batch_size(batch_size)
  num_epochs = _arrays.validate_num_epochs(num_epochs)
  queue_capacity = validate_queue_capacity(queue_capacity)
  validate_num_threads(num_threads)
  seed = _arrays.validate_seed(seed)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  arrays = [np.asarray(v) for v in data.values()]
  num_rows = len(arrays[0])
  _arrays.check_rows('x', num_rows, error=_errors.InputZeroDivisionError)

  num_features = len(feature_keys)
  x_is_array = isinstance(x, np.ndarray)

  def rebuild(columns):
    if x_is_array:
      features = columns[0]
    else:
      features = dict(zip(feature_keys, columns[:num_features]))
    if target_keys is None:
      return features
    if isinstance(target_keys, str):
      return features, columns[-1]
    return features, dict(zip(target_keys, columns[num_features:]))

  return legacy_input_fn(arrays, dtypes, rebuild, num_rows, batch_size, num_epochs, shuffle,
                         seed, prefetch_batches(queue_capacity, batch_size), steps_per_run)


def legacy_input_fn(arrays, dtypes, rebuild, num_rows, batch_size, num_epochs, shuffle, seed,
                    prefetch, steps_per_run):
  """The input_fn of the drop-ins (numpy_input_fn, pandas_input_fn) over checked columns.

  Unlike tensor_slices_input_fn it ignores ``mode``: the legacy functions read the same way in
  every mode. ``mode`` still decides the worker shard and grouping by ``steps_per_run``.
  """
  call_seeds = _batching.CallSeeds(seed)
  store = _arrays.ColumnStore(arrays, dtypes)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    shard = _sharding.resolve(mode, config, input_context)
    _arrays.check_shard_not_empty(num_rows, shard)
    return _grouping.make_group_dataset(
        store, dtypes, rebuild, batch_size, num_epochs, shuffle,
        seed=call_seeds.next() if shuffle else None, shard=shard, prefetch=prefetch,
        steps_per_run=groups.steps_per_run_of(mode, params, steps_per_run))

  return input_fn
