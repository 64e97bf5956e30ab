"""In-memory features and labels (dicts, DataFrames, arrays) as validated NumPy columns.

Shared by the builders that accept arbitrary in-memory data (``tensor_slices_input_fn``,
``write_tfrecords``). The legacy drop-ins (``numpy_input_fn``, ``pandas_input_fn``) keep the
legacy checks instead.
"""

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _checks


def pandas_module(value):
  """pandas, if ``value`` comes from it (without importing pandas otherwise)."""
  if type(value).__module__.split('.')[0] != 'pandas':
    return None
  import pandas as pd

  return pd


def _series_to_numpy(name, series, pd):
  """A pandas Series as a NumPy array that tf.data can take, or a clear error."""
  dtype = series.dtype
  if isinstance(dtype, np.dtype) and dtype.kind in 'biufc':
    return series.to_numpy()
  if isinstance(dtype, pd.CategoricalDtype):
    return _categorical_to_numpy(name, series, pd)
  if pd.api.types.is_string_dtype(dtype) or dtype == object:  # noqa: E721 (a dtype, not a type)
    if series.isna().any():
      validation.fail(
        name, 'values without missing entries', series, 'Fill them first, e.g. series.fillna("")'
      )
    return checked_objects(name, series.to_numpy(dtype=object))
  if pd.api.types.is_extension_array_dtype(dtype) and (
    pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
  ):
    if series.isna().any():
      validation.fail(
        name, 'values without missing entries', series, 'Fill them first, e.g. series.fillna(0)'
      )
    return series.to_numpy(dtype=dtype.numpy_dtype)
  validation.fail(
    name,
    'numeric, bool or string values',
    series,
    'Convert it first, e.g. datetimes with series.astype("int64")',
    error=exceptions.ArgumentTypeError,
  )


def _categorical_to_numpy(name, series, pd):
  """A pandas Categorical as its values (str or int), for a categorical feature column."""
  if series.isna().any():
    validation.fail(
      name,
      'values without missing entries',
      series,
      'Give them a category first, e.g. series.cat.add_categories("?").fillna("?")',
    )
  categories = series.cat.categories
  values = pd.Series(categories.to_numpy()[series.cat.codes.to_numpy()], dtype=categories.dtype)
  return _series_to_numpy(name, values, pd)


def checked_objects(name, array):
  """An object array must hold str or bytes only (it becomes a tf.string column)."""
  flat = array.reshape(-1)
  if not all(isinstance(v, (str, bytes)) for v in flat[:1000]):
    bad = next(v for v in flat[:1000] if not isinstance(v, (str, bytes)))
    validation.fail(
      name,
      'numeric, bool or string values',
      array,
      'Found %r (%s); convert the column to one type' % (bad, type(bad).__name__),
      error=exceptions.ArgumentTypeError,
    )
  return array


def to_column(name, value):
  """Returns ``(array, tf_dtype)`` for one feature or label, or raises a clear error."""
  pd = pandas_module(value)
  if pd is not None and isinstance(value, pd.Series):
    array = _series_to_numpy(name, value, pd)
  else:
    try:
      array = np.asarray(value)
    except (ValueError, TypeError) as e:
      raise exceptions.ArgumentError(
        validation.message(name, 'an array with one row per example', value, str(e))
      ) from e
    if array.ndim == 0:
      validation.fail(
        name,
        'an array with a first (rows) dimension',
        value,
        'A single example is an array of shape [1, ...]',
      )
    if array.dtype.kind == 'O':
      checked_objects(name, array)
    elif array.dtype.kind not in 'biufcSU':
      validation.fail(
        name, 'numeric, bool or string values', value, error=exceptions.ArgumentTypeError
      )
  dtype = tf.string if array.dtype.kind in 'OSU' else tf.dtypes.as_dtype(array.dtype)
  return array, dtype


def flatten(name, value, allow_none):
  """Flattens features or labels into (structure, [(key, array, dtype)]).

  The structure is 'dict' (with the keys in the caller's order), 'tensor', or None.
  """
  if value is None:
    if allow_none:
      return None, []
    validation.fail(
      name, 'a dict of arrays, a DataFrame or an array', value, error=exceptions.ArgumentTypeError
    )
  pd = pandas_module(value)
  if pd is not None and isinstance(value, pd.DataFrame):
    if value.columns.has_duplicates:
      validation.fail(
        name,
        'a DataFrame with unique column names',
        list(value.columns),
        'Rename the duplicated columns',
      )
    items = [(c, value[c]) for c in value.columns]
    if not items:
      validation.fail(name, 'a DataFrame with at least one column', value)
    fix = 'Rename them, e.g. df.columns = df.columns.astype(str)'
  elif isinstance(value, dict):
    items = list(value.items())
    if not items:
      validation.fail(
        name,
        'a non-empty dict of arrays',
        value,
        'Pass None for no %s' % name if allow_none else None,
      )
    fix = None
  else:
    array, dtype = to_column(name, value)
    return 'tensor', [(None, array, dtype)]
  columns = []
  for key, column in items:
    if not isinstance(key, str):
      validation.fail('%s keys' % name, 'str', key, fix, error=exceptions.ArgumentTypeError)
    array, dtype = to_column('%s[%r]' % (name, key), column)
    columns.append((key, array, dtype))
  return 'dict', columns


def validate_lengths(feature_columns, label_columns):
  """The number of rows of the columns :func:`flatten` gave; refuses differing or none."""
  named = [('features' if k is None else 'features[%r]' % k, a) for k, a, _ in feature_columns]
  named += [('labels' if k is None else 'labels[%r]' % k, a) for k, a, _ in label_columns]
  num_rows = len(named[0][1])
  for _, array in named[1:]:
    if len(array) != num_rows:
      lengths = ', '.join('%s: %d' % (n, len(a)) for n, a in named)
      raise exceptions.ArgumentError(
        'features and labels must have the same number of rows, given: %s' % lengths
      )
  _checks.check_rows('features', num_rows)
  return num_rows


def is_dataframe(value):
  """Whether ``value`` is a pandas DataFrame (without importing pandas otherwise)."""
  pd = pandas_module(value)
  return pd is not None and isinstance(value, pd.DataFrame)
