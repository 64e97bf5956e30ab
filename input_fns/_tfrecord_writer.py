"""``write_tfrecords``: in-memory features and labels as TFRecord files of ``tf.train.Example``."""

import collections
import os

import numpy as np
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _files

# Rows converted to Python values at a time.
_CHUNK_ROWS = 4096

# Named (and pickled) under its public module, as before the readers and writer were split.
TFRecordFiles = collections.namedtuple(
  'TFRecordFiles',
  ['paths', 'feature_spec', 'label_key', 'num_examples'],
  module='tfest_adapters.input_fns.file_io',
)
TFRecordFiles.__doc__ = """What :func:`write_tfrecords` wrote.

Attributes:
  paths: list of the files written, in row order.
  feature_spec: dict of ``tf.io.FixedLenFeature`` that parses them back (labels included).
  label_key: the feature name of the labels, or None when there are none.
  num_examples: rows written.
"""


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
    return (
      'bytes_list',
      tf.string,
      lambda a: [v.encode('utf-8') if isinstance(v, str) else bytes(v) for v in a.tolist()],
    )
  validation.fail(
    name, 'float, int, bool or string values', array, error=exceptions.ArgumentTypeError
  )


def write_tfrecords(
  features, labels, path, num_shards=1, *, label_key='label', compression_type=None
):
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
    validation.fail(
      'features',
      'a dict of arrays or a pandas DataFrame',
      features,
      'Name a single array: {"x": array}',
      error=exceptions.ArgumentTypeError,
    )
  _, feature_columns = _columns.flatten('features', features, allow_none=False)
  if isinstance(labels, dict) or _columns.is_dataframe(labels):
    validation.fail(
      'labels', 'one array or pandas Series, or None', labels, error=exceptions.ArgumentTypeError
    )
  _, label_columns = _columns.flatten('labels', labels, allow_none=True)
  num_rows = _columns.validate_lengths(feature_columns, label_columns)
  if not isinstance(path, (str, os.PathLike)):
    validation.fail('path', 'a file path', path, error=exceptions.ArgumentTypeError)
  path = os.fspath(path)
  num_shards = _checks.positive_int('num_shards', num_shards)
  if num_shards > num_rows:
    validation.fail('num_shards', 'at most the number of rows (%d)' % num_rows, num_shards)
  if not isinstance(label_key, str):
    validation.fail('label_key', 'a str', label_key, error=exceptions.ArgumentTypeError)
  validation.check_one_of('compression_type', compression_type, _files.COMPRESSION_TYPES)

  columns = [(k, a) for k, a, _ in feature_columns]
  if label_columns:
    if label_key in dict(columns):
      validation.fail(
        'label_key', 'a name that is not a feature', label_key, 'Pass another label_key'
      )
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
  for shard_path, start, stop in zip(paths, bounds[:-1], bounds[1:]):
    with tf.io.TFRecordWriter(shard_path, options=options) as writer:
      _write_rows(writer, columns, kinds, start, stop)
  return TFRecordFiles(paths, feature_spec, label_key if label_columns else None, num_rows)


def _feature(list_kind, values):
  if list_kind == 'float_list':
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  if list_kind == 'int64_list':
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _write_rows(writer, columns, kinds, start, stop):
  """Writes rows ``[start, stop)`` of ``columns``, one Example each, converting in chunks."""
  for begin in range(start, stop, _CHUNK_ROWS):
    end = min(stop, begin + _CHUNK_ROWS)
    values = {}
    for name, array in columns:
      _, convert, width = kinds[name]
      flat = convert(np.asarray(array[begin:end]).reshape(end - begin, width).reshape(-1))
      values[name] = [flat[i * width : (i + 1) * width] for i in range(end - begin)]
    for i in range(end - begin):
      feature = {name: _feature(kinds[name][0], values[name][i]) for name, _ in columns}
      example = tf.train.Example(features=tf.train.Features(feature=feature))
      writer.write(example.SerializeToString())
