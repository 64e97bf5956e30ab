"""Input functions over files: CSV and TFRecord (tf.Example), and a writer for the latter.

Both readers are mode-aware like :func:`~tfest_adapters.input_fns.tensor_slices_input_fn`:
TRAIN shuffles and repeats, EVAL and PREDICT make one ordered pass (PREDICT without labels).
Records are batched first and parsed a batch at a time (``tf.io.decode_csv`` and
``tf.io.parse_example`` are vectorised), files are read in parallel when training, and in
multi-worker training each worker reads its own files (or, with fewer files than workers,
its own records).
"""

import collections
import csv
import numbers
import os

import numpy as np
import tensorflow as tf

from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters import exceptions
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _grouping
from tfest_adapters.input_fns import _sharding

_ModeKeys = tf.estimator.ModeKeys

# Rows of the first file read to infer column types when column_defaults are not given.
_INFERENCE_ROWS = 1000

_FEATURE_TYPES = (tf.io.FixedLenFeature, tf.io.VarLenFeature, tf.io.FixedLenSequenceFeature,
                  tf.io.RaggedFeature, tf.io.SparseFeature)

_COMPRESSION_TYPES = (None, '', 'GZIP', 'ZLIB')

TFRecordFiles = collections.namedtuple(
    'TFRecordFiles', ['paths', 'feature_spec', 'label_key', 'num_examples'])
TFRecordFiles.__doc__ = """What :func:`write_tfrecords` wrote.

Attributes:
  paths: list of the files written, in row order.
  feature_spec: dict of ``tf.io.FixedLenFeature`` that parses them back (labels included).
  label_key: the feature name of the labels, or None when there are none.
  num_examples: rows written.
"""


# Validation.


def _validate_files(file_pattern):
  """Expands a pattern (or a list of them) into the sorted list of matching files."""
  if isinstance(file_pattern, str):
    patterns = [file_pattern]
  elif isinstance(file_pattern, (list, tuple)) and file_pattern and all(
      isinstance(p, str) for p in file_pattern):
    patterns = list(file_pattern)
  else:
    validation.fail('file_pattern', 'a glob pattern or a non-empty list of them',
                     file_pattern, error=exceptions.ArgumentTypeError)
  files = sorted(set(f for p in patterns for f in tf.io.gfile.glob(p)))
  if not files:
    validation.fail('file_pattern', 'a pattern matching at least one file', file_pattern,
                     'Check the path (relative paths start from %s)' % os.getcwd())
  return files


def _validate_positive_int(name, value):
  if not isinstance(value, numbers.Integral) or isinstance(value, bool):
    validation.fail(name, 'a positive int', value, error=exceptions.ArgumentTypeError)
  return validation.check_positive_int(name, value)


def _validate_common(batch_size, shuffle, num_epochs, seed, drop_remainder,
                     shuffle_buffer_size, num_parallel_reads):
  batch_size = _arrays.validate_batch_size(batch_size)
  validation.check_bool('shuffle', shuffle)
  num_epochs = _arrays.validate_num_epochs(num_epochs)
  seed = _arrays.validate_seed(seed)
  validation.check_bool('drop_remainder', drop_remainder)
  _validate_positive_int('shuffle_buffer_size', shuffle_buffer_size)
  _validate_positive_int('num_parallel_reads', num_parallel_reads)
  return batch_size, num_epochs, seed


def _validate_label_key(label_key, names, where):
  if label_key is None:
    return None
  if not isinstance(label_key, str):
    validation.fail('label_key', 'a str or None', label_key,
                     error=exceptions.ArgumentTypeError)
  if label_key not in names:
    raise exceptions.ArgumentKeyError(validation.message(
        'label_key', 'one of the %s %s' % (where, list(names)), label_key,
        'Pass label_key=None for data without labels'))
  return label_key


# The pipeline shared by both readers.


def _mode_settings(mode, shuffle, num_epochs, drop_remainder):
  if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
    return False, 1, False
  return shuffle, num_epochs, drop_remainder


def _records(files, reader, mode, config, input_context, shuffle, num_epochs, seed,
             shuffle_buffer_size, num_parallel_reads):
  """Returns the Dataset of raw records (lines, serialized Examples) this worker reads."""
  num_shards, index = _sharding.resolve(mode, config, input_context)
  record_shard = None
  if num_shards > 1:
    if len(files) >= num_shards:
      files = files[index::num_shards]
    else:
      record_shard = (num_shards, index)
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if record_shard is not None:
    # Too few files to share out: every worker reads them all, in order, and keeps its rows.
    dataset = dataset.flat_map(reader).shard(*record_shard)
  elif shuffle and len(files) > 1:
    # Parallel reads; in a deterministic order when seeded (reproducible), else as they come.
    dataset = dataset.shuffle(len(files), seed=seed).interleave(
        reader, cycle_length=min(num_parallel_reads, len(files)), block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
  else:
    dataset = dataset.flat_map(reader)
  if shuffle:
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
  return dataset.repeat(num_epochs)


def _batches(records, parse, batch_size, num_epochs, drop_remainder):
  # Repeating forever: every batch is full, so say so (a static batch dimension).
  drop = drop_remainder or num_epochs is None
  return (records.batch(batch_size, drop_remainder=drop)
          .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))


# CSV.


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
    if all(-2**31 <= i < 2**31 for i in ints):
      return tf.int32
    return tf.int64
  except ValueError:
    pass
  try:
    [float(v) for v in values]  # pylint: disable=expression-not-assigned
    return tf.float32
  except ValueError:
    return tf.string


_CSV_DTYPES = (tf.float32, tf.float64, tf.int32, tf.int64, tf.string)
_PYTHON_TYPES = {int: tf.int64, float: tf.float32, str: tf.string, bytes: tf.string}


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
    validation.fail(name, 'a default value (int, float, str) or a type among float32, '
                     'float64, int32, int64, string', default,
                     error=exceptions.ArgumentTypeError)
  return dtype, []


def csv_input_fn(file_pattern, label_key, column_names=None, column_defaults=None,
                 batch_size=128, shuffle=True, num_epochs=None, *, seed=None, header=True,
                 field_delim=',', na_value='', select_columns=None, shuffle_buffer_size=10000,
                 num_parallel_reads=4, drop_remainder=False, steps_per_run=None):
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
    steps_per_run: None (default) or int > 0 . In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it). EVAL and
      PREDICT always get single batches.

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
  files = _validate_files(file_pattern)
  validation.check_bool('header', header)
  if not isinstance(field_delim, str) or len(field_delim) != 1:
    validation.fail('field_delim', 'a one-character str', field_delim)
  if not isinstance(na_value, str):
    validation.fail('na_value', 'a str', na_value, error=exceptions.ArgumentTypeError)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  batch_size, num_epochs, seed = _validate_common(
      batch_size, shuffle, num_epochs, seed, drop_remainder, shuffle_buffer_size,
      num_parallel_reads)

  head = _read_head(files[0], field_delim, _INFERENCE_ROWS)
  if header and not head:
    validation.fail('file_pattern', 'CSV files with a header line', files[0],
                     'The file is empty; pass header=False for files without a header')
  if column_names is None:
    if not header:
      validation.fail('column_names', 'the list of column names when header=False',
                       column_names)
    column_names = [name.strip() for name in head[0]]
  elif (not isinstance(column_names, (list, tuple)) or not column_names or
        not all(isinstance(n, str) for n in column_names)):
    validation.fail('column_names', 'None or a non-empty list of str', column_names,
                     error=exceptions.ArgumentTypeError)
  column_names = list(column_names)
  if len(set(column_names)) != len(column_names):
    validation.fail('column_names', 'unique names', column_names)
  data_rows = head[1:] if header else head
  widths = set(len(r) for r in (head[:1] if header else []) + data_rows if r)
  if widths and widths != {len(column_names)}:
    validation.fail('column_names', 'one name per field of %s (%s fields)' % (
        files[0], ' or '.join(str(w) for w in sorted(widths))), column_names,
                     'Check field_delim and the header')

  if select_columns is None:
    selected = list(column_names)
  else:
    if not isinstance(select_columns, (list, tuple)) or not select_columns:
      validation.fail('select_columns', 'None or a non-empty list of column names',
                       select_columns, error=exceptions.ArgumentTypeError)
    for name in select_columns:
      if name not in column_names:
        raise exceptions.ArgumentKeyError(validation.message(
            'select_columns', 'names among the columns %s' % column_names, name))
    selected = [n for n in column_names if n in select_columns]
  label_key = _validate_label_key(label_key, selected, 'selected columns')

  if column_defaults is None:
    column_defaults = {}
  if isinstance(column_defaults, dict):
    for name in column_defaults:
      if name not in column_names:
        raise exceptions.ArgumentKeyError(validation.message(
            'column_defaults keys', 'names among the columns %s' % column_names, name))
    entries = [column_defaults.get(n) for n in column_names]
  elif isinstance(column_defaults, (list, tuple)):
    if len(column_defaults) != len(column_names):
      validation.fail('column_defaults', 'one entry per column (%d)' % len(column_names),
                       column_defaults)
    entries = list(column_defaults)
  else:
    validation.fail('column_defaults', 'None, a list or a dict', column_defaults,
                     error=exceptions.ArgumentTypeError)
  select_ids = [column_names.index(n) for n in selected]
  defaults = []
  for i in select_ids:
    name, entry = column_names[i], entries[i]
    if entry is None:
      defaults.append((_infer_dtype([r[i] for r in data_rows if len(r) > i], na_value), []))
    else:
      defaults.append(_record_default('column_defaults[%r]' % name, entry))
  all_selected = len(select_ids) == len(column_names)

  call_seeds = _batching.CallSeeds(seed)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    mode_shuffle, mode_epochs, mode_drop = _mode_settings(
        mode, shuffle, num_epochs, drop_remainder)
    call_seed = call_seeds.next_int() if mode_shuffle else None
    with_labels = label_key is not None and mode != _ModeKeys.PREDICT

    def reader(path):
      lines = tf.data.TextLineDataset(path)
      return lines.skip(1) if header else lines

    def parse(lines):
      fields = tf.io.decode_csv(
          lines, [tf.constant(v, dtype=t) for t, v in defaults], field_delim=field_delim,
          na_value=na_value, select_cols=None if all_selected else select_ids)
      features = dict(zip(selected, fields))
      if label_key is None:
        return features
      labels = features.pop(label_key)
      return (features, labels) if with_labels else features

    records = _records(files, reader, mode, config, input_context, mode_shuffle,
                       mode_epochs, call_seed, shuffle_buffer_size, num_parallel_reads)
    return _grouping.group_dataset(
        _batches(records, parse, batch_size, mode_epochs, mode_drop),
        groups.steps_per_run_of(mode, params, steps_per_run))

  return input_fn


# TFRecord.


def _validate_feature_spec(feature_spec):
  if not isinstance(feature_spec, dict) or not feature_spec:
    validation.fail('feature_spec', 'a non-empty dict of name -> tf.io.FixedLenFeature '
                     '(or another tf.io parsing spec)', feature_spec,
                     'write_tfrecords returns one', error=exceptions.ArgumentTypeError)
  for name, spec in feature_spec.items():
    if not isinstance(name, str):
      validation.fail('feature_spec keys', 'str', name, error=exceptions.ArgumentTypeError)
    if not isinstance(spec, _FEATURE_TYPES):
      validation.fail('feature_spec[%r]' % name, 'a tf.io parsing spec such as '
                       'tf.io.FixedLenFeature', spec, error=exceptions.ArgumentTypeError)
  return dict(feature_spec)


def tfrecord_input_fn(file_pattern, feature_spec, label_key, batch_size=128, shuffle=True,
                      num_epochs=None, *, seed=None, compression_type=None,
                      shuffle_buffer_size=10000, num_parallel_reads=4, drop_remainder=False,
                      steps_per_run=None):
  """Returns a mode-aware input_fn over TFRecord files of ``tf.train.Example``.

  Files are read in parallel (interleaved) when training, records are batched and parsed a
  batch at a time with ``tf.io.parse_example``.

  Example:

  ```python
  import os
  import tempfile
  import numpy as np
  import tensorflow as tf
  from tfest_adapters.input_fns import tfrecord_input_fn, write_tfrecords

  features = {'x': np.random.rand(100, 3).astype(np.float32),
              'name': np.array(['row%d' % i for i in range(100)])}
  path = os.path.join(tempfile.mkdtemp(), 'train.tfrecord')
  written = write_tfrecords(features, np.arange(100) % 2, path, num_shards=4)
  input_fn = tfrecord_input_fn(written.paths, written.feature_spec, written.label_key,
                               batch_size=32, seed=0)
  features, labels = next(iter(input_fn(mode=tf.estimator.ModeKeys.EVAL)))
  print(features['x'].shape, labels.shape)  # (32, 3) (32,)
  ```

  Args:
    file_pattern: glob pattern, or list of patterns (or paths), of the TFRecord files.
    feature_spec: dict of feature name -> ``tf.io.FixedLenFeature`` (or ``VarLenFeature``,
      ``RaggedFeature``...), the label included.
    label_key: the label's feature name, or None for data without labels.
    batch_size: int > 0.
    shuffle: bool; shuffle files and records in TRAIN mode (and without a mode).
    num_epochs: None (repeat forever) or int >= 0; in TRAIN mode (and without a mode).
    seed: int >= 0 or None. Seeds the shuffling; call ``k`` of the input_fn uses a seed
      derived from ``(seed, k)``, so successive ``train()`` calls do not replay the same
      records (None: TensorFlow's default, from the graph seed).
    compression_type: None, '', 'GZIP' or 'ZLIB'.
    shuffle_buffer_size: int > 0, records in the shuffle buffer.
    num_parallel_reads: int > 0, files read at once when shuffling.
    drop_remainder: bool; in TRAIN mode (and without a mode), drop a last short batch.
    steps_per_run: None (default) or int > 0 . In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it). EVAL and
      PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset`` of ``(features, labels)``: ``features`` the dict of parsed tensors
    (``feature_spec`` without the label), ``labels`` the label tensor. TRAIN (or no mode):
    shuffled if ``shuffle``, for ``num_epochs`` epochs, one shard per worker in multi-worker
    training. EVAL: one pass in file and record order. PREDICT: the same, ``features`` only
    (the label is not parsed, so unlabeled files work). Without a ``label_key`` the elements
    are ``features`` only.

  Raises:
    ValueError: no file matches; an int argument out of range; a bad compression type.
    KeyError: ``label_key`` is not in ``feature_spec``.
    TypeError: wrong argument types.
  """
  files = _validate_files(file_pattern)
  feature_spec = _validate_feature_spec(feature_spec)
  label_key = _validate_label_key(label_key, list(feature_spec), 'feature_spec keys')
  validation.check_one_of('compression_type', compression_type, _COMPRESSION_TYPES)
  batch_size, num_epochs, seed = _validate_common(
      batch_size, shuffle, num_epochs, seed, drop_remainder, shuffle_buffer_size,
      num_parallel_reads)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)

  call_seeds = _batching.CallSeeds(seed)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    mode_shuffle, mode_epochs, mode_drop = _mode_settings(
        mode, shuffle, num_epochs, drop_remainder)
    call_seed = call_seeds.next_int() if mode_shuffle else None
    with_labels = label_key is not None and mode != _ModeKeys.PREDICT
    spec = dict(feature_spec)
    if label_key is not None and mode == _ModeKeys.PREDICT:
      del spec[label_key]

    def reader(path):
      return tf.data.TFRecordDataset(path, compression_type=compression_type or '')

    def parse(serialized):
      features = tf.io.parse_example(serialized, spec)
      if not with_labels:
        return features
      labels = features.pop(label_key)
      return features, labels

    records = _records(files, reader, mode, config, input_context, mode_shuffle,
                       mode_epochs, call_seed, shuffle_buffer_size, num_parallel_reads)
    return _grouping.group_dataset(
        _batches(records, parse, batch_size, mode_epochs, mode_drop),
        groups.steps_per_run_of(mode, params, steps_per_run))

  return input_fn


def _example_kind(name, array):
  """(tf.train list kind, parse dtype, converter to Python values) for an array's dtype."""
  kind = array.dtype.kind
  if kind == 'f':
    return 'float_list', tf.float32, lambda a: a.astype(np.float32, copy=False).tolist()
  if kind in 'biu':
    if kind == 'u' and array.size and array.max() > np.iinfo(np.int64).max:
      validation.fail(name, 'values that fit in int64', array)
    return 'int64_list', tf.int64, lambda a: a.astype(np.int64, copy=False).tolist()
  if kind in 'OSU':
    return 'bytes_list', tf.string, lambda a: [
        v.encode('utf-8') if isinstance(v, str) else bytes(v) for v in a.tolist()]
  validation.fail(name, 'float, int, bool or string values', array,
                   error=exceptions.ArgumentTypeError)


def write_tfrecords(features, labels, path, num_shards=1, *, label_key='label',
                    compression_type=None):
  """Writes in-memory features (and labels) as TFRecord files of ``tf.train.Example``.

  One Example per row, one feature per column (as google-research/bert's
  ``file_based_convert_examples_to_features``): floats as ``float_list`` (float32), ints
  and bools as ``int64_list``, strings as ``bytes_list`` (UTF-8); a column of shape
  ``[N, d1, ...]`` is stored flat and parsed back to ``[d1, ...]``.

  Example:

  ```python
  import os
  import tempfile
  import numpy as np
  from tfest_adapters.input_fns import write_tfrecords

  features = {'x1': np.arange(10.0), 'x2': np.arange(20).reshape(10, 2)}
  written = write_tfrecords(features, np.arange(10) % 3,
                            os.path.join(tempfile.mkdtemp(), 'data.tfrecord'))
  print(written.feature_spec['x2'])  # FixedLenFeature(shape=[2], dtype=tf.int64, ...)
  # tfrecord_input_fn(written.paths, written.feature_spec, written.label_key)
  ```

  Args:
    features: dict of arrays (str keys) or pandas DataFrame.
    labels: array or pandas Series, or None.
    path: output path; with ``num_shards > 1`` the files are
      ``<path>-00000-of-0000N``... Parent directories are created.
    num_shards: int > 0, files to split the rows into (contiguous blocks, so reading the
      files in name order gives the rows in order).
    label_key: str (keyword-only), the feature name of the labels.
    compression_type: None, '', 'GZIP' or 'ZLIB' (keyword-only).

  Returns:
    A ``TFRecordFiles(paths, feature_spec, label_key, num_examples)`` namedtuple;
    ``feature_spec`` parses the files back (``tfrecord_input_fn`` takes it as it is).

  Raises:
    ValueError: lengths differ, no rows, more shards than rows, ``label_key`` is also a
      feature, a bad compression type.
    TypeError: unsupported types or dtypes.
  """
  if not (isinstance(features, dict) or _columns.is_dataframe(features)):
    validation.fail('features', 'a dict of arrays or a pandas DataFrame', features,
                     'Name a single array: {"x": array}', error=exceptions.ArgumentTypeError)
  _, feature_columns = _columns.flatten('features', features, allow_none=False)
  if isinstance(labels, dict) or _columns.is_dataframe(labels):
    validation.fail('labels', 'one array or pandas Series, or None', labels,
                     error=exceptions.ArgumentTypeError)
  _, label_columns = _columns.flatten('labels', labels, allow_none=True)
  num_rows = _columns.validate_lengths(feature_columns, label_columns)
  if not isinstance(path, (str, os.PathLike)):
    validation.fail('path', 'a file path', path, error=exceptions.ArgumentTypeError)
  path = os.fspath(path)
  num_shards = _validate_positive_int('num_shards', num_shards)
  if num_shards > num_rows:
    validation.fail('num_shards', 'at most the number of rows (%d)' % num_rows, num_shards)
  if not isinstance(label_key, str):
    validation.fail('label_key', 'a str', label_key, error=exceptions.ArgumentTypeError)
  validation.check_one_of('compression_type', compression_type, _COMPRESSION_TYPES)

  columns = [(k, a) for k, a, _ in feature_columns]
  if label_columns:
    if label_key in dict(columns):
      validation.fail('label_key', 'a name that is not a feature', label_key,
                       'Pass another label_key')
    columns.append((label_key, label_columns[0][1]))
  kinds = {}
  feature_spec = {}
  for name, array in columns:
    list_kind, dtype, convert = _example_kind(name, array)
    kinds[name] = (list_kind, convert, int(np.prod(array.shape[1:], dtype=np.int64)))
    feature_spec[name] = tf.io.FixedLenFeature(list(array.shape[1:]), dtype)

  if num_shards == 1:
    paths = [path]
  else:
    paths = ['%s-%05d-of-%05d' % (path, i, num_shards) for i in range(num_shards)]
  parent = os.path.dirname(path)
  if parent:
    tf.io.gfile.makedirs(parent)
  bounds = np.linspace(0, num_rows, num_shards + 1).astype(np.int64)
  options = tf.io.TFRecordOptions(compression_type=compression_type or '')
  chunk = 4096
  for shard_path, start, stop in zip(paths, bounds[:-1], bounds[1:]):
    with tf.io.TFRecordWriter(shard_path, options=options) as writer:
      for begin in range(start, stop, chunk):
        end = min(stop, begin + chunk)
        values = {}
        for name, array in columns:
          list_kind, convert, width = kinds[name]
          flat = convert(np.asarray(array[begin:end]).reshape(end - begin, width).reshape(-1))
          values[name] = [flat[i * width:(i + 1) * width] for i in range(end - begin)]
        for i in range(end - begin):
          feature = {}
          for name, _ in columns:
            list_kind = kinds[name][0]
            if list_kind == 'float_list':
              feature[name] = tf.train.Feature(
                  float_list=tf.train.FloatList(value=values[name][i]))
            elif list_kind == 'int64_list':
              feature[name] = tf.train.Feature(
                  int64_list=tf.train.Int64List(value=values[name][i]))
            else:
              feature[name] = tf.train.Feature(
                  bytes_list=tf.train.BytesList(value=values[name][i]))
          example = tf.train.Example(features=tf.train.Features(feature=feature))
          writer.write(example.SerializeToString())
  return TFRecordFiles(paths, feature_spec, label_key if label_columns else None, num_rows)
