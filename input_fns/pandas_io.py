"""``pandas_input_fn``: the legacy ``tf.compat.v1.estimator.inputs.pandas_input_fn``, on tf.data.

pandas is imported when the builder is called, not when this module is.
"""

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _errors
from tfest_adapters.input_fns import _legacy


def _import_pandas():
  try:
    import pandas as pd
  except (ImportError, OSError):
    raise exceptions.ArgumentTypeError(
      'pandas_input_fn should not be called without pandas installed'
    ) from None
  return pd


def _validate_x(x, pd):
  if isinstance(x, pd.DataFrame):
    if x.columns.has_duplicates:
      validation.fail(
        'x',
        'a DataFrame with unique column names',
        list(x.columns),
        'Rename the duplicated columns',
      )
    return x
  message = validation.message('x', 'a pandas DataFrame', x)
  # The legacy function fails on x.copy() or x.columns (AttributeError) for these, and
  # with a TypeError when it builds its queue for the others.
  if isinstance(x, np.ndarray) or not hasattr(x, 'copy'):
    raise _errors.InputAttributeError(message)
  raise exceptions.ArgumentTypeError(message)


def _column(name, series, pd):
  """``(array, dtype)`` of a column: categorical and string columns as their values.

  Beyond the legacy function, which refuses them: a Categorical gives its values (str or int,
  not its codes) and an object or ``string`` column of str a tf.string column, for
  categorical feature columns. Other dtypes are the legacy queue's (its TypeError included).
  """
  if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(series.dtype):
    return _columns.to_column(name, series)
  return series.to_numpy(), tf.dtypes.as_dtype(series.dtype)


def _validate_y(y, x, target_column, pd):
  """The legacy checks on y, in the legacy order and with the legacy texts."""
  if target_column in x:
    raise exceptions.ArgumentError(
      'Cannot use name %s for target column: DataFrame already has a '
      'column with that name: %s' % (target_column, x.columns)
    )
  if not isinstance(y, (pd.Series, pd.DataFrame)):
    message = validation.message('y', 'a pandas Series or DataFrame, or None', y)
    if not hasattr(y, 'index'):
      raise _errors.InputAttributeError(message)
    raise exceptions.ArgumentError(message)
  if not np.array_equal(x.index, y.index):
    raise exceptions.ArgumentError(
      'Index for x and y are mismatched.\nIndex for x: %s\nIndex for y: %s\n' % (x.index, y.index)
    )
  return y


def pandas_input_fn(
  x,
  y=None,
  batch_size=128,
  num_epochs=1,
  shuffle=None,
  queue_capacity=1000,
  num_threads=1,
  target_column='target',
  *,
  seed=None,
  steps_per_run=None,
):
  """Returns an input_fn that feeds a pandas DataFrame to an Estimator.

  A drop-in replacement for ``tf.compat.v1.estimator.inputs.pandas_input_fn``, on tf.data,
  as :func:`~tfest_adapters.input_fns.numpy_input_fn` is for its legacy function: the same
  arguments, output structure, batches for ``shuffle=False`` and exception types, plus
  ``seed``. The columns are read as NumPy views of the DataFrame, which is not copied (the
  legacy function copies it): do not modify it while the input_fn is in use.

  Example:

  ```python
  import pandas as pd
  from tfest_adapters.input_fns import pandas_input_fn

  x = pd.read_csv('data/iris_training.csv')
  y = x.pop('Species')
  train_input_fn = pandas_input_fn(x, y, batch_size=32, num_epochs=None, shuffle=True, seed=0)
  features, labels = next(iter(train_input_fn()))
  print(list(features), labels.shape)  # ['SepalLength', ..., 'PetalWidth'] (32,)
  predict_input_fn = pandas_input_fn(x, shuffle=False)  # Features only, in row order.
  ```

  Args:
    x: pandas DataFrame, one feature per column. Beyond the legacy function, string columns
      (object or ``string`` dtype) and ``Categorical`` ones (fed as their str or int values)
      are taken, for categorical feature columns.
    y: pandas Series (one label), DataFrame (a dict of labels), or None. Its index must
      equal ``x``'s.
    batch_size: int > 0.
    num_epochs: int >= 0, or None to read forever.
    shuffle: bool, required.
    queue_capacity: int > 0, or None (the number of rows): rows prepared ahead.
    num_threads: int > 0; accepted for compatibility, changes nothing.
    target_column: str, a name no column of ``x`` has (checked when ``y`` is given, as by
      the legacy function; the labels keep their own names).
    seed: int >= 0 or None (keyword-only). Seeds the shuffling; call ``k`` of the input_fn
      uses ``(seed, k)``, so successive ``train()`` calls do not replay the same batches.
      Shuffled reading copies the columns of one dtype (up to 256 MiB) once into a
      row-major matrix.
    steps_per_run: None (default) or int > 0 (keyword-only). In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, gathered at once, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it). EVAL and
      PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)`` returning a
    ``tf.data.Dataset`` whose elements are, in every mode, ``features`` (a dict of
    ``[batch]`` tensors keyed and ordered like ``x.columns``) followed, when ``y`` is given,
    by ``labels`` (a tensor for a Series, a dict keyed like ``y.columns`` for a DataFrame).

  Raises:
    ValueError: ``shuffle`` is not a bool; ``target_column`` is a column of ``x``; the
      indexes of ``x`` and ``y`` differ; an int argument is out of range.
    TypeError: pandas is missing; ``target_column`` is not a str; a column's dtype (or the
      index's) has no TensorFlow dtype; an int argument is not an int.
    AttributeError, ZeroDivisionError: where the legacy function raised them (``x`` or ``y``
      not pandas, no rows); also ``tfest_adapters.TfestError`` with a clear message.
  """
  pd = _import_pandas()
  _legacy.validate_shuffle(shuffle)
  if not isinstance(target_column, str):
    raise exceptions.ArgumentTypeError('target_column must be a string type')
  x = _validate_x(x, pd)
  columns = list(x.columns)
  series = [x[c] for c in columns]
  target_keys = None
  if y is not None:
    y = _validate_y(y, x, target_column, pd)
    if isinstance(y, pd.DataFrame):
      target_keys = list(y.columns)
      series += [y[c] for c in target_keys]
    else:
      series.append(y)
  # The legacy queue's dtypes, index first: the same TypeError for an unsupported dtype.
  tf.dtypes.as_dtype(x.index.dtype)
  names = ['x[%r]' % c for c in columns] + (
    ['y'] if target_keys is None else ['y[%r]' % c for c in target_keys]
  )
  arrays, dtypes = zip(*[_column(n, s, pd) for n, s in zip(names, series)])
  batch_size = _checks.validate_batch_size(batch_size)
  num_epochs = _checks.validate_num_epochs(num_epochs)
  queue_capacity = _legacy.validate_queue_capacity(queue_capacity, allow_none=True)
  _legacy.validate_num_threads(num_threads)
  seed = _checks.validate_seed(seed)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  num_rows = len(x)
  _checks.check_rows('x', num_rows, error=_errors.InputZeroDivisionError)
  if queue_capacity is None:
    queue_capacity = num_rows
  arrays = list(arrays)
  num_features = len(columns)

  def rebuild(tensors):
    features = dict(zip(columns, tensors[:num_features]))
    if y is None:
      return features
    if target_keys is None:
      return features, tensors[-1]
    return features, dict(zip(target_keys, tensors[num_features:]))

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
