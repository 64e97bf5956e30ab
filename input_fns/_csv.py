"""``csv_input_fn``: a mode-aware input_fn over CSV files, parsed a batch at a time."""

import csv
import numbers

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _files
from tfest_adapters.input_fns import _grouping

_ModeKeys = tf.estimator.ModeKeys

# Rows of the first file read to infer column types when column_defaults are not given.
_INFERENCE_ROWS = 1000

_CSV_DTYPES = (tf.float32, tf.float64, tf.int32, tf.int64, tf.string)
_PYTHON_TYPES = {int: tf.int64, float: tf.float32, str: tf.string, bytes: tf.string}


def _read_head(path, field_delim, num_rows):
  with tf.io.gfile.GFile(path, 'r') as f:
    rows = []
    for row in csv.reader(f, delimiter=field_delim):
      rows.append(row)
      if len(rows) > num_rows:
        break
  return rows


def _infer_dtype(values, na_value):
  """The narrowest of int32, int64, float32 and string that parses every value."""
  values = [v for v in values if v != na_value and v.strip()]
  if not values:
    return tf.string
  try:
    ints = [int(v) for v in values]
    if all(-(2**31) <= i < 2**31 for i in ints):
      return tf.int32
    return tf.int64
  except ValueError:
    pass
  try:
    for value in values:
      float(value)
    return tf.float32
  except ValueError:
    return tf.string


def _record_default(name, default):
  """``(dtype, [default] or [])`` for decode_csv from a column_defaults entry.

  A value (int, float, str) is the field's default and gives its type; a type (``tf.int64``,
  ``np.float32``, ``int``, ``str``...) makes the field required.
  """
  if isinstance(default, (str, bytes, numbers.Number)) and not isinstance(default, bool):
    if isinstance(default, numbers.Integral):
      return (tf.int64 if abs(int(default)) >= 2**31 else tf.int32), [int(default)]
    if isinstance(default, numbers.Real):
      return tf.float32, [float(default)]
    if isinstance(default, (str, bytes)):
      return tf.string, [default]
  dtype = _PYTHON_TYPES.get(default) if isinstance(default, type) else None
  if dtype is None:
    try:
      dtype = tf.dtypes.as_dtype(default)
    except TypeError:
      dtype = None
  if dtype not in _CSV_DTYPES:
    validation.fail(
      name,
      'a default value (int, float, str) or a type among float32, float64, int32, int64, string',
      default,
      error=exceptions.ArgumentTypeError,
    )
  return dtype, []


def _column_names(column_names, header, path, field_delim):
  """``(column names, data rows)`` of the first file: the names checked against its fields."""
  head = _read_head(path, field_delim, _INFERENCE_ROWS)
  if header and not head:
    validation.fail(
      'file_pattern',
      'CSV files with a header line',
      path,
      'The file is empty; pass header=False for files without a header',
    )
  if column_names is None:
    if not header:
      validation.fail('column_names', 'the list of column names when header=False', column_names)
    column_names = [name.strip() for name in head[0]]
  elif (
    not isinstance(column_names, (list, tuple))
    or not column_names
    or not all(isinstance(n, str) for n in column_names)
  ):
    validation.fail(
      'column_names',
      'None or a non-empty list of str',
      column_names,
      error=exceptions.ArgumentTypeError,
    )
  column_names = list(column_names)
  if len(set(column_names)) != len(column_names):
    validation.fail('column_names', 'unique names', column_names)
  data_rows = head[1:] if header else head
  widths = set(len(r) for r in (head[:1] if header else []) + data_rows if r)
  if widths and widths != {len(column_names)}:
    validation.fail(
      'column_names',
      'one name per field of %s (%s fields)' % (path, ' or '.join(str(w) for w in sorted(widths))),
      column_names,
      'Check field_delim and the header',
    )
  return column_names, data_rows


def _selected(select_columns, column_names):
  """The columns to parse, in file order."""
  if select_columns is None:
    return list(column_names)
  if not isinstance(select_columns, (list, tuple)) or not select_columns:
    validation.fail(
      'select_columns',
      'None or a non-empty list of column names',
      select_columns,
      error=exceptions.ArgumentTypeError,
    )
  for name in select_columns:
    if name not in column_names:
      raise exceptions.ArgumentKeyError(
        validation.message('select_columns', 'names among the columns %s' % column_names, name)
      )
  return [n for n in column_names if n in select_columns]


def _record_defaults(column_defaults, column_names, select_ids, data_rows, na_value):
  """``(dtype, [default] or [])`` of each selected column, from ``column_defaults`` or inferred."""
  if column_defaults is None:
    column_defaults = {}
  if isinstance(column_defaults, dict):
    for name in column_defaults:
      if name not in column_names:
        raise exceptions.ArgumentKeyError(
          validation.message(
            'column_defaults keys', 'names among the columns %s' % column_names, name
          )
        )
    entries = [column_defaults.get(n) for n in column_names]
  elif isinstance(column_defaults, (list, tuple)):
    if len(column_defaults) != len(column_names):
      validation.fail(
        'column_defaults', 'one entry per column (%d)' % len(column_names), column_defaults
      )
    entries = list(column_defaults)
  else:
    validation.fail(
      'column_defaults',
      'None, a list or a dict',
      column_defaults,
      error=exceptions.ArgumentTypeError,
    )
  defaults = []
  for i in select_ids:
    name, entry = column_names[i], entries[i]
    if entry is None:
      defaults.append((_infer_dtype([r[i] for r in data_rows if len(r) > i], na_value), []))
    else:
      defaults.append(_record_default('column_defaults[%r]' % name, entry))
  return defaults


def csv_input_fn(
  file_pattern,
  label_key,
  column_names=None,
  column_defaults=None,
  batch_size=128,
  shuffle=True,
  num_epochs=None,
  *,
  seed=None,
  header=True,
  field_delim=',',
  na_value='',
  select_columns=None,
  shuffle_buffer_size=10000,
  num_parallel_reads=4,
  drop_remainder=False,
  steps_per_run=None,
):
  """Returns a mode-aware input_fn over CSV files.

  Column names come from the first file's header unless given; column types come from
  ``column_defaults`` or are inferred from the first rows of the first file (int32, int64,
  float32 or string, as ``tf.data.experimental.make_csv_dataset`` does; an inferred field is
  required: a missing value is an error, give a default in ``column_defaults`` to fill it).
  Lines are batched, then parsed a batch at a time.

  Example:

  ```python
  from tfest_adapters.input_fns import csv_input_fn

  input_fn = csv_input_fn('data/iris_training.csv', label_key='Species', batch_size=32, seed=0)
  features, labels = next(iter(input_fn()))  # Without a mode: shuffled, repeated.
  print(list(features), labels.dtype)  # ['SepalLength', ..., 'PetalWidth'] <dtype: 'int32'>
  # estimator.train(input_fn, max_steps=1000)
  # estimator.evaluate(csv_input_fn('data/iris_test.csv', 'Species'))  # One ordered pass.
  ```

  Args:
    file_pattern: glob pattern, or list of patterns, of the CSV files.
    label_key: the label column, or None for files without labels.
    column_names: list of the column names, in file order. Required when ``header`` is
      False; when given with a header, the header line is skipped.
    column_defaults: None (infer), a list (one per column) or a dict (name -> entry, the
      others inferred) of entries that are either a dtype (``tf.float32``, ``np.int64``,
      ``str``...: the field is required) or a value (int, float, str: the field's type and
      default when missing).
    batch_size: int > 0.
    shuffle: bool; shuffle files and rows in TRAIN mode (and without a mode).
    num_epochs: None (repeat forever) or int >= 0; in TRAIN mode (and without a mode).
    seed: int >= 0 or None. Seeds the shuffling; call ``k`` of the input_fn uses a seed
      derived from ``(seed, k)``, so successive ``train()`` calls do not replay the same
      records (None: TensorFlow's default, from the graph seed).
    header: bool, whether each file starts with a header line.
    field_delim: one-character str.
    na_value: str read as missing.
    select_columns: None (all) or the list of column names to parse (the label included).
    shuffle_buffer_size: int > 0, rows in the shuffle buffer.
    num_parallel_reads: int > 0, files read at once when shuffling.
    drop_remainder: bool; in TRAIN mode (and without a mode), drop a last short batch.
    steps_per_run: None (default) or int > 0. In TRAIN (or without a mode), the Dataset
      yields groups of this many batches, which the model_fn templates train in one
      ``session.run`` (see ``tfest_adapters.models``); None takes ``params['steps_per_run']``
      from the Estimator's params (1 without it). EVAL and PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset`` of ``(features, labels)`` where ``features`` is a dict of ``[batch]``
    tensors keyed by column name (file order, without the label) and ``labels`` the label
    column's ``[batch]`` tensor. TRAIN (or no mode): shuffled if ``shuffle``, for
    ``num_epochs`` epochs, one shard per worker in multi-worker training. EVAL: one pass in
    file and row order. PREDICT: the same, ``features`` only. Without a ``label_key`` the
    elements are ``features`` only.

  Raises:
    ValueError: no file matches; names, defaults or selection do not fit the file; an int
      argument out of range.
    KeyError: ``label_key`` or a selected column is not a column.
    TypeError: wrong argument types.
  """
  files = _files.expand_files(file_pattern)
  validation.check_bool('header', header)
  if not isinstance(field_delim, str) or len(field_delim) != 1:
    validation.fail('field_delim', 'a one-character str', field_delim)
  if not isinstance(na_value, str):
    validation.fail('na_value', 'a str', na_value, error=exceptions.ArgumentTypeError)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  batch_size, num_epochs, seed = _files.validate_reading(
    batch_size, shuffle, num_epochs, seed, drop_remainder, shuffle_buffer_size, num_parallel_reads
  )
  column_names, data_rows = _column_names(column_names, header, files[0], field_delim)
  selected = _selected(select_columns, column_names)
  label_key = _files.validate_label_key(label_key, selected, 'selected columns')
  select_ids = [column_names.index(n) for n in selected]
  defaults = _record_defaults(column_defaults, column_names, select_ids, data_rows, na_value)
  all_selected = len(select_ids) == len(column_names)
  call_seeds = _batching.CallSeeds(seed)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    mode_shuffle, mode_epochs, mode_drop = _files.mode_settings(
      mode, shuffle, num_epochs, drop_remainder
    )
    call_seed = call_seeds.next_int() if mode_shuffle else None
    with_labels = label_key is not None and mode != _ModeKeys.PREDICT

    def reader(path):
      lines = tf.data.TextLineDataset(path)
      return lines.skip(1) if header else lines

    def parse(lines):
      fields = tf.io.decode_csv(
        lines,
        [tf.constant(v, dtype=t) for t, v in defaults],
        field_delim=field_delim,
        na_value=na_value,
        select_cols=None if all_selected else select_ids,
      )
      features = dict(zip(selected, fields))
      if label_key is None:
        return features
      labels = features.pop(label_key)
      return (features, labels) if with_labels else features

    records = _files.records(
      files,
      reader,
      mode,
      config,
      input_context,
      mode_shuffle,
      mode_epochs,
      call_seed,
      shuffle_buffer_size,
      num_parallel_reads,
    )
    return _grouping.group_dataset(
      _files.batches(records, parse, batch_size, mode_epochs, mode_drop),
      groups.steps_per_run_of(mode, params, steps_per_run),
    )

  return input_fn
