"""Reading the data files of the ``tfest`` command line into a :class:`Table`: CSV, npz, TFRecord.

A missing, empty or unreadable file is refused with a one-line ArgumentError naming the argument
and the file. Only reading TFRecord files imports TensorFlow (to parse them eagerly).
"""

import csv
import glob
import json
import os

import numpy as np

from tfest_adapters.cli import _messages as messages

FORMATS = ('csv', 'npz', 'tfrecord')
_EXTENSIONS = {
  '.csv': 'csv',
  '.txt': 'csv',
  '.npz': 'npz',
  '.tfrecord': 'tfrecord',
  '.tfrecords': 'tfrecord',
  '.tfr': 'tfrecord',
}
_SPEC_DTYPES = ('float32', 'float64', 'int64', 'string')


class Table:
  """The columns of one data file: name -> numpy array whose first axis is the example.

  Attributes:
    columns: dict (in file order) of column name -> numpy array, str for CSV columns (parsed
      later, column by column, to report the exact line of a bad value), typed for npz and
      TFRecord files.
    path: the file (or pattern) it was read from.
    arg: the command-line argument that named it (``'--train'``), for messages.
    kind: ``'csv'``, ``'npz'`` or ``'tfrecord'``.
  """

  def __init__(self, columns, path, arg, kind):
    self.columns = columns
    self.path = path
    self.arg = arg
    self.kind = kind

  @property
  def num_rows(self):
    for values in self.columns.values():
      return len(values)
    return 0

  @property
  def name(self):
    """``'--train data/iris_training.csv'``: how messages name this file."""
    return '%s %s' % (self.arg, self.path)

  def where(self, row):
    """Where row ``row`` (0-based) is in the file, as a user finds it in an editor."""
    if self.kind == 'csv':
      return 'line %d' % (row + 2)  # Line 1 is the header.
    return '%s %d' % ('record' if self.kind == 'tfrecord' else 'row', row)


def detect_format(path, arg, given=None):
  """The file format: ``given`` if set, else from the extension; refuses unknown ones."""
  if given is not None:
    return given
  extension = os.path.splitext(path)[1].lower()
  if extension.endswith('.gz'):
    extension = os.path.splitext(path[:-3])[1].lower()
  if extension in _EXTENSIONS:
    return _EXTENSIONS[extension]
  # The shards write_tfrecords writes: x.tfrecord-00000-of-00002 (or a pattern of them).
  if '.tfrecord' in os.path.basename(path).lower():
    return 'tfrecord'
  messages.fail(
    '%s must be a .csv, .npz or .tfrecord file, given: %r; pass --format '
    'csv|npz|tfrecord to read a file with another extension' % (arg, path)
  )


def _existing_files(path, arg, pattern):
  if pattern and glob.has_magic(path):
    files = sorted(glob.glob(path))
    if not files:
      messages.fail(
        '%s must name existing files, given: %r (the pattern matches no file)' % (arg, path)
      )
    return files
  if not os.path.exists(path):
    messages.fail('%s must be an existing file, given: %r (no such file)' % (arg, path))
  if os.path.isdir(path):
    messages.fail('%s must be a file, given: %r (a directory)' % (arg, path))
  return [path]


def read_table(path, arg, file_format=None, feature_spec=None):
  """Reads a data file into a :class:`Table`, refusing missing, empty and unreadable files.

  Args:
    path: a ``.csv`` file (with a header line), a ``.npz`` file (one array per column, first
      axis the example) or TFRecord files of tf.Example (a glob pattern is allowed).
    arg: the argument that named the file, for messages (``'--train'``).
    file_format: ``'csv'``, ``'npz'``, ``'tfrecord'`` or None to decide from the extension.
    feature_spec: for TFRecord files, the parsed ``--feature-spec`` (see
      :func:`read_feature_spec`): column name -> (dtype, shape).

  Returns:
    A :class:`Table` with at least one row and one column.
  """
  file_format = detect_format(path, arg, file_format)
  files = _existing_files(path, arg, pattern=file_format == 'tfrecord')
  if file_format == 'csv':
    table = _read_csv(files[0], arg)
  elif file_format == 'npz':
    table = _read_npz(files[0], arg)
  else:
    if feature_spec is None:
      messages.fail(
        '%s %s is a TFRecord file: pass --feature-spec spec.json saying how to '
        'parse its tf.Examples (for example {"x": "float32", "label": "int64"})' % (arg, path)
      )
    table = _read_tfrecord(files, path, arg, feature_spec)
  if table.num_rows == 0:
    messages.fail(
      '%s must hold at least one example, given: %r, which has %s but no rows'
      % (arg, path, 'a header line' if file_format == 'csv' else 'no examples')
    )
  return table


def _read_csv(path, arg):
  import pandas as pd

  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      header = next(csv.reader(f), None)
  except UnicodeDecodeError:
    messages.fail('%s must be a UTF-8 text CSV file, given: %r, which is not text' % (arg, path))
  if not header or not any(h.strip() for h in header):
    messages.fail(
      '%s must be a CSV file with a header line of column names, given: %r, which '
      'is empty' % (arg, path)
    )
  header = [h.strip() for h in header]
  if '' in header:
    messages.fail(
      '%s %s: the header line must name every column, given: column %d has no '
      'name' % (arg, path, header.index('') + 1)
    )
  duplicates = sorted({h for h in header if header.count(h) > 1})
  if duplicates:
    messages.fail(
      '%s %s: column names must be unique, given: %s more than once in the header '
      'line' % (arg, path, messages.quote_list(duplicates))
    )
  try:
    frame = pd.read_csv(
      path,
      dtype=str,
      keep_default_na=False,
      na_filter=False,
      skipinitialspace=True,
      encoding='utf-8-sig',
    )
  except (pd.errors.ParserError, ValueError) as e:
    messages.fail(
      '%s must be a valid CSV file, given: %r: %s' % (arg, path, str(e).strip().splitlines()[-1])
    )
  frame.columns = header
  columns = {name: np.asarray(frame[name].to_numpy(dtype=object), dtype=str) for name in header}
  return Table(columns, path, arg, 'csv')


def _read_npz(path, arg):
  try:
    with np.load(path, allow_pickle=False) as data:
      columns = {name: data[name] for name in data.files}
  except ValueError as e:
    if 'pickle' in str(e):
      messages.fail(
        '%s %s must hold numeric or string arrays, given: an object array (arrays '
        'that need pickle are not read); save the column with a numeric or str '
        'dtype' % (arg, path)
      )
    messages.fail('%s must be a .npz file written by numpy.savez, given: %r (%s)' % (arg, path, e))
  except (OSError, EOFError) as e:
    messages.fail('%s must be a .npz file written by numpy.savez, given: %r (%s)' % (arg, path, e))
  if not columns:
    messages.fail('%s must hold at least one array, given: %r, which holds none' % (arg, path))
  lengths = {name: (values.shape[0] if values.ndim else None) for name, values in columns.items()}
  for name, length in lengths.items():
    if length is None or columns[name].ndim > 2:
      messages.fail(
        '%s %s: array %r must have shape [examples] or [examples, size], given: '
        'shape %s' % (arg, path, name, columns[name].shape)
      )
  if len(set(lengths.values())) > 1:
    messages.fail(
      '%s %s: every array must have the same number of examples (first axis), '
      'given: %s' % (arg, path, ', '.join('%s %d' % (n, size) for n, size in lengths.items()))
    )
  for name, values in columns.items():
    if values.dtype.kind not in 'biufUS':
      messages.fail(
        '%s %s: array %r must be numeric or str, given: dtype %s' % (arg, path, name, values.dtype)
      )
    if values.dtype.kind == 'S':
      columns[name] = np.char.decode(values, 'utf-8')
  return Table(columns, path, arg, 'npz')


def read_feature_spec(path, arg='--feature-spec'):
  """Reads a feature spec JSON: ``{"name": "float32" | {"dtype": ..., "shape": [...]}}``.

  dtypes are ``float32``, ``float64``, ``int64`` or ``string``; shape defaults to ``[]`` (one
  value per example).

  Returns:
    dict of name -> (dtype, shape tuple), in file order.
  """
  _existing_files(path, arg, pattern=False)
  try:
    with open(path, encoding='utf-8') as f:
      raw = json.load(f)
  except (ValueError, UnicodeDecodeError) as e:
    messages.fail('%s must be a JSON file, given: %r (%s)' % (arg, path, e))
  if not isinstance(raw, dict) or not raw:
    messages.fail(
      '%s must be a JSON object of column name -> dtype, such as {"x": "float32", '
      '"label": "int64"}, given: %s' % (arg, messages.short(json.dumps(raw), 60))
    )
  spec = {}
  for name, entry in raw.items():
    if isinstance(entry, str):
      entry = {'dtype': entry}
    if not isinstance(entry, dict):
      messages.fail(
        '%s: column %r must map to a dtype or {"dtype": ..., "shape": [...]}, '
        'given: %s' % (arg, name, messages.short(json.dumps(entry)))
      )
    dtype, shape = entry.get('dtype'), entry.get('shape', [])
    if dtype not in _SPEC_DTYPES:
      messages.fail(
        '%s: column %r must have a dtype among %s, given: %r'
        % (arg, name, ', '.join(_SPEC_DTYPES), dtype)
      )
    if not isinstance(shape, list) or not all(
      isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
      messages.fail(
        '%s: column %r must have a shape that is a list of positive ints, given: '
        '%r' % (arg, name, shape)
      )
    if dtype == 'string' and shape:
      messages.fail(
        '%s: string column %r must hold one value per example (shape []), given: '
        'shape %r' % (arg, name, shape)
      )
    spec[name] = (dtype, tuple(shape))
  return spec


def _read_tfrecord(files, path, arg, feature_spec):
  import tensorflow as tf

  parse_spec = {
    name: tf.io.FixedLenFeature(shape, tf.string if dtype == 'string' else dtype)
    for name, (dtype, shape) in feature_spec.items()
  }
  compression = 'GZIP' if path.endswith('.gz') else None
  chunks = {name: [] for name in feature_spec}
  try:
    dataset = tf.data.TFRecordDataset(files, compression_type=compression).batch(4096)
    for serialized in dataset:
      parsed = tf.io.parse_example(serialized, parse_spec)
      for name in feature_spec:
        chunks[name].append(parsed[name].numpy())
  except (tf.errors.OpError, ValueError) as e:
    message = getattr(e, 'message', None) or str(e)
    messages.fail(
      '%s must be TFRecord files of tf.Example matching --feature-spec, given: '
      '%r: %s' % (arg, path, message.strip().splitlines()[0])
    )
  columns = {}
  for name, (dtype, shape) in feature_spec.items():
    if chunks[name]:
      values = np.concatenate(chunks[name])
    else:
      values = np.zeros((0,) + shape, np.float32)
    if dtype == 'string':
      values = np.asarray([v.decode('utf-8') for v in values], dtype=str)
    columns[name] = values
  return Table(columns, path, arg, 'tfrecord')
