"""``tensor_slices_input_fn``: in-memory features and labels, mode-aware, without graph constants.

The classic tutorial input_fn,

  def train_input_fn(features, labels, batch_size):
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    return dataset.shuffle(1000).repeat().batch(batch_size)

embeds every array in the graph (and so in graph.pbtxt and each checkpoint's .meta; past 2 GB
it fails), shuffles within a 1000-row window only, and needs a second function for
evaluation. This builder keeps its convenience and its name, and fixes those: the data stays
in Python and is gathered batch by batch, every epoch is a full permutation, and one input_fn
serves every mode.
"""

import numpy as np
import tensorflow as tf

from tfest_adapters import _validation
from tfest_adapters import exceptions
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _sharding

_ModeKeys = tf.estimator.ModeKeys


def _pandas_module(value):
  """pandas, if ``value`` comes from it (without importing pandas otherwise)."""
  if type(value).__module__.split('.')[0] != 'pandas':
    return None
  import pandas as pd  # pylint: disable=g-import-not-at-top
  return pd


def _series_to_numpy(name, series, pd):
  """A pandas Series as a NumPy array that tf.data can take, or a clear error."""
  dtype = series.dtype
  if isinstance(dtype, np.dtype) and dtype.kind in 'biufc':
    return series.to_numpy()
  if isinstance(dtype, pd.CategoricalDtype):
    _validation.fail(name, 'numeric, bool or string values', series,
                     'Use series.cat.codes for the category ids, or series.astype(str)',
                     error=exceptions.ArgumentTypeError)
  if pd.api.types.is_string_dtype(dtype) or dtype == object:
    if series.isna().any():
      _validation.fail(name, 'values without missing entries', series,
                       'Fill them first, e.g. series.fillna("")')
    return _checked_objects(name, series.to_numpy(dtype=object))
  if pd.api.types.is_extension_array_dtype(dtype) and (
      pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
    if series.isna().any():
      _validation.fail(name, 'values without missing entries', series,
                       'Fill them first, e.g. series.fillna(0)')
    return series.to_numpy(dtype=dtype.numpy_dtype)
  _validation.fail(name, 'numeric, bool or string values', series,
                   'Convert it first, e.g. datetimes with series.astype("int64")',
                   error=exceptions.ArgumentTypeError)


def _checked_objects(name, array):
  """An object array must hold str or bytes only (it becomes a tf.string column)."""
  flat = array.reshape(-1)
  if not all(isinstance(v, (str, bytes)) for v in flat[:1000]):
    bad = next(v for v in flat[:1000] if not isinstance(v, (str, bytes)))
    _validation.fail(name, 'numeric, bool or string values', array,
                     'Found %r (%s); convert the column to one type' % (bad, type(bad).__name__),
                     error=exceptions.ArgumentTypeError)
  return array


def _to_column(name, value):
  """Returns ``(array, tf_dtype)`` for one feature or label, or raises a clear error."""
  pd = _pandas_module(value)
  if pd is not None and isinstance(value, pd.Series):
    array = _series_to_numpy(name, value, pd)
  else:
    try:
      array = np.asarray(value)
    except (ValueError, TypeError) as e:
      raise exceptions.ArgumentError(
          _validation.message(name, 'an array with one row per example', value, str(e)))
    if array.ndim == 0:
      _validation.fail(name, 'an array with a first (rows) dimension', value,
                       'A single example is an array of shape [1, ...]')
    if array.dtype.kind == 'O':
      _checked_objects(name, array)
    elif array.dtype.kind not in 'biufcSU':
      _validation.fail(name, 'numeric, bool or string values', value,
                       error=exceptions.ArgumentTypeError)
  dtype = tf.string if array.dtype.kind in 'OSU' else tf.dtypes.as_dtype(array.dtype)
  return array, dtype


def _flatten(name, value, allow_none):
  """Flattens features or labels into (structure, [(key, array, dtype)]).

  The structure is 'dict' (with the keys in the caller's order), 'tensor', or None.
  """
  if value is None:
    if allow_none:
      return None, []
    _validation.fail(name, 'a dict of arrays, a DataFrame or an array', value,
                     error=exceptions.ArgumentTypeError)
  pd = _pandas_module(value)
  if pd is not None and isinstance(value, pd.DataFrame):
    if value.columns.has_duplicates:
      _validation.fail(name, 'a DataFrame with unique column names', list(value.columns),
                       'Rename the duplicated columns')
    items = [(c, value[c]) for c in value.columns]
    if not items:
      _validation.fail(name, 'a DataFrame with at least one column', value)
    fix = 'Rename them, e.g. df.columns = df.columns.astype(str)'
  elif isinstance(value, dict):
    items = list(value.items())
    if not items:
      _validation.fail(name, 'a non-empty dict of arrays', value,
                       'Pass None for no %s' % name if allow_none else None)
    fix = None
  else:
    array, dtype = _to_column(name, value)
    return 'tensor', [(None, array, dtype)]
  columns = []
  for key, column in items:
    if not isinstance(key, str):
      _validation.fail('%s keys' % name, 'str', key, fix, error=exceptions.ArgumentTypeError)
    array, dtype = _to_column('%s[%r]' % (name, key), column)
    columns.append((key, array, dtype))
  return 'dict', columns


def _validate_lengths(feature_columns, label_columns):
  named = [('features' if k is None else 'features[%r]' % k, a) for k, a, _ in feature_columns]
  named += [('labels' if k is None else 'labels[%r]' % k, a) for k, a, _ in label_columns]
  num_rows = len(named[0][1])
  for name, array in named[1:]:
    if len(array) != num_rows:
      lengths = ', '.join('%s: %d' % (n, len(a)) for n, a in named)
      raise exceptions.ArgumentError(
          'features and labels must have the same number of rows, given: %s' % lengths)
  _arrays.check_rows('features', num_rows)
  return num_rows


def tensor_slices_input_fn(features, labels=None, batch_size=128, shuffle=True,
                           num_epochs=None, *, seed=None, drop_remainder=False):
  """Returns a mode-aware input_fn over in-memory features and labels.

  The ``from_tensor_slices((dict(features), labels)).shuffle(1000).repeat().batch(n)`` input
  function of the TensorFlow tutorials, made general and safe: the arrays are never embedded
  in the graph (they are gathered batch by batch in Python, so 10 GB of features work and
  model_dirs stay small), every epoch is a full permutation of the rows, and the same
  input_fn serves ``train``, ``evaluate`` and ``predict``.

  Example:

  ```python
  features = {'SepalLength': sl, 'SepalWidth': sw}    # or a DataFrame, or an [N, d] array
  input_fn = tensor_slices_input_fn(features, labels, batch_size=32, seed=0)
  estimator.train(input_fn, max_steps=1000)   # shuffled, repeated
  estimator.evaluate(input_fn)                # one ordered pass
  predictions = estimator.predict(input_fn)   # one ordered pass, features only
  ```

  Args:
    features: dict of arrays (str keys), pandas DataFrame (one feature per column), or one
      array (``[N, ...]``, given to the model as a single tensor). Arrays may be numeric,
      bool or strings; pandas nullable and string columns are accepted when they have no
      missing values.
    labels: None, an array or pandas Series (one label tensor), or a dict of arrays or a
      DataFrame (a dict of label tensors). Same number of rows as ``features``.
    batch_size: int > 0.
    shuffle: bool; shuffle in TRAIN mode (and when the input_fn is called without a mode).
    num_epochs: None (repeat forever) or an int >= 0; in TRAIN mode (and without a mode).
    seed: int >= 0 or None (keyword-only). Seeds the shuffling.
    drop_remainder: bool (keyword-only); in TRAIN mode (and without a mode), drop the last
      short batch so every batch has a static ``batch_size`` dimension.

  Returns:
    ``input_fn(mode=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset``:

    * TRAIN (or no mode): ``(features, labels)`` batches, shuffled if ``shuffle``, for
      ``num_epochs`` epochs (forever when None); one shard per worker in multi-worker
      training.
    * EVAL: ``(features, labels)``, one pass in order, every row exactly once (the last batch
      may be short).
    * PREDICT: ``features`` only, one pass in order.

    ``features`` is a dict of ``[batch, ...]`` tensors with the caller's keys in the
    caller's order (DataFrame column order), or one tensor; ``labels`` likewise, and is
    left out when ``labels`` is None.

  Raises:
    ValueError: rows differ in number, data has no rows, an empty dict, a missing value,
      an int argument out of range.
    TypeError: unsupported types or dtypes, non-str keys, non-bool flags.
  """
  feature_kind, feature_columns = _flatten('features', features, allow_none=False)
  label_kind, label_columns = _flatten('labels', labels, allow_none=True)
  num_rows = _validate_lengths(feature_columns, label_columns)
  batch_size = _arrays.validate_batch_size(batch_size)
  _validation.check_bool('shuffle', shuffle)
  num_epochs = _arrays.validate_num_epochs(num_epochs)
  seed = _arrays.validate_seed(seed)
  _validation.check_bool('drop_remainder', drop_remainder)
  feature_keys = [k for k, _, _ in feature_columns]
  label_keys = [k for k, _, _ in label_columns]
  num_features = len(feature_columns)

  def _structure(kind, keys, tensors):
    return tensors[0] if kind == 'tensor' else dict(zip(keys, tensors))

  def input_fn(mode=None, config=None, input_context=None):
    if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
      mode_shuffle, mode_epochs, mode_drop = False, 1, False
    else:
      mode_shuffle, mode_epochs, mode_drop = shuffle, num_epochs, drop_remainder
    with_labels = label_kind is not None and mode != _ModeKeys.PREDICT
    columns = feature_columns + (label_columns if with_labels else [])

    def rebuild(tensors):
      built = _structure(feature_kind, feature_keys, tensors[:num_features])
      if not with_labels:
        return built
      return built, _structure(label_kind, label_keys, tensors[num_features:])

    shard = _sharding.resolve(mode, config, input_context)
    _arrays.check_shard_not_empty(num_rows, shard)
    return _arrays.make_dataset(
        [a for _, a, _ in columns], [d for _, _, d in columns], rebuild, batch_size,
        mode_epochs, mode_shuffle, seed=seed, shard=shard, drop_remainder=mode_drop)

  return input_fn

