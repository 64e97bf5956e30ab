"""``numpy_input_fn``: the legacy ``tf.compat.v1.estimator.inputs.numpy_input_fn``, on tf.data."""

import collections

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _errors
from tfest_adapters.input_fns import _legacy

# The legacy key of an array `x` in its internal dict; it appears in its error messages.
_DIRECT_INPUT_KEY = '__direct_np_input__'
_TARGET_KEY = '__target_key__'


def _first_dim(name, value):
  """``value.shape[0]``, with a clear error where the legacy function crashed."""
  shape = getattr(value, 'shape', None)
  if shape is None:
    raise _errors.InputAttributeError(
      validation.message(name, 'a numpy array', value, 'Convert it with np.asarray')
    )
  if len(shape) == 0:
    raise _errors.InputIndexError(
      validation.message(
        name,
        'an array with a first (rows) dimension',
        value,
        'A single example is an array of shape [1, ...]',
      )
    )
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
  data, feature_keys, target_keys = _ordered_columns(x, y)
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
      'Shapes in y: {}\n'.format(shape_dict_of_x, shape_of_y)
    )
  # Past the legacy checks: an object column must hold strings, or the first batch fails
  # deep in tf.data ("Unsupported object type dict").
  for key, value in data.items():
    if getattr(value, 'dtype', None) is not None and value.dtype.kind == 'O':
      _columns.checked_objects(_name_of(key, target_keys, y), np.asarray(value))
  return data, feature_keys, target_keys


def _ordered_columns(x, y):
  """The legacy ``_validate_and_convert_features`` and target handling: columns in order."""
  if isinstance(x, dict):
    if not x:
      raise exceptions.ArgumentError('x cannot be an empty dict')
    data = collections.OrderedDict(sorted(x.items(), key=lambda t: t[0]))
  elif isinstance(x, np.ndarray):
    if x.size == 0:
      raise exceptions.ArgumentError('x cannot be an empty array')
    data = collections.OrderedDict({_DIRECT_INPUT_KEY: x})
  else:
    raise exceptions.ArgumentTypeError('x must be a dict or array; got {}'.format(type(x).__name__))
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
      raise exceptions.ArgumentError(
        '{} duplicate keys are found in both x and y: {}'.format(
          len(duplicate_keys), duplicate_keys
        )
      )
    data.update(ordered_y)
  else:
    target_keys = _TARGET_KEY
    while target_keys in data:
      target_keys += '_n'
    data[target_keys] = y
  return data, feature_keys, target_keys


def numpy_input_fn(
  x,
  y=None,
  batch_size=128,
  num_epochs=1,
  shuffle=None,
  queue_capacity=1000,
  num_threads=1,
  *,
  seed=None,
  steps_per_run=None,
):
  """Returns an input_fn that feeds a dict of numpy arrays (or one array) to an Estimator.

  A drop-in replacement for ``tf.compat.v1.estimator.inputs.numpy_input_fn``, on ``tf.data``:
  the same arguments and defaults, output structure and exception types, and with
  ``shuffle=False`` the same batches in the same order (batches run on across epochs; only
  the last one of a finite number of epochs can be short). The arrays stay in Python and are
  read batch by batch, never copied into the graph. Unlike the legacy function it takes a
  ``seed``, shuffles a full permutation of the rows every epoch, never multiplies the epochs
  by ``num_threads``, gives each worker its own shard in multi-worker training, and refuses
  bad arguments when it is called.

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
    queue_capacity: int > 0, rows prepared ahead of the model (in whole batches).
    num_threads: int > 0; accepted for compatibility, changes nothing.
    seed: int >= 0 or None (keyword-only). Seeds the shuffling; call ``k`` of the input_fn
      uses ``(seed, k)``, so successive ``train()`` calls read on instead of replaying the
      same batches. Python's ``random`` is never reseeded. Shuffled reading copies the
      columns of one dtype (up to 256 MiB) once into a row-major matrix.
    steps_per_run: None (default) or int > 0 (keyword-only). In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, gathered at once, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it).

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset`` of ``features`` (a dict of ``[batch] + shape[1:]`` tensors keyed
    and ordered like ``sorted(x)``, or one tensor when ``x`` is an array), followed when
    ``y`` is given by ``labels`` (a tensor, or a dict like ``sorted(y)``). Every mode reads
    the same data; sharding applies in TRAIN, or whenever an ``input_context`` asks for it.

  Raises:
    ValueError: ``shuffle`` is not a bool; ``x`` or ``y`` is an empty dict or array; keys
      are in both ``x`` and ``y``; lengths differ; an int argument is out of range.
    TypeError: ``x`` is not a dict or array; a column's dtype has no TensorFlow dtype; an
      int argument is not an int.
    AttributeError, IndexError, ZeroDivisionError: where the legacy function raised them
      (a list instead of an array, a 0-d array, data without rows, ``queue_capacity=0``);
      these are also ``tfest_adapters.TfestError`` with a clear message.
  """
  _legacy.validate_shuffle(shuffle)
  data, feature_keys, target_keys = _legacy_columns(x, y)
  # The legacy queue's dtypes, in its order: the same TypeError for an unsupported dtype.
  dtypes = [tf.dtypes.as_dtype(np.asarray(v).dtype) for v in data.values()]
  batch_size = _checks.validate_batch_size(batch_size)
  num_epochs = _checks.validate_num_epochs(num_epochs)
  queue_capacity = _legacy.validate_queue_capacity(queue_capacity)
  _legacy.validate_num_threads(num_threads)
  seed = _checks.validate_seed(seed)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  arrays = [np.asarray(v) for v in data.values()]
  num_rows = len(arrays[0])
  _checks.check_rows('x', num_rows, error=_errors.InputZeroDivisionError)

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

  return _legacy.make_input_fn(
    arrays,
    dtypes,
    rebuild,
    num_rows,
    batch_size,
    num_epochs,
    shuffle,
    seed,
    _legacy.prefetch_batches(queue_capacity, batch_size),
    steps_per_run,
  )
