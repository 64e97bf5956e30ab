"""Reading and checking the data files of the ``tfest`` command line, before any TensorFlow.

Everything the command line can refuse is refused here, from the files alone: a missing or
empty file, an unknown label column, text in a numeric column, a class the model never saw.
Nothing in this module builds a graph or touches a model_dir, and only reading TFRecord files
imports TensorFlow (to parse them eagerly).

The pieces:

- :func:`read_table` reads a CSV, ``.npz`` or TFRecord file into a :class:`Table`
  (column name -> numpy array, one row per example).
- :func:`infer_schema` looks at the training table and decides, column by column, what the
  model sees: numeric features (with their mean and standard deviation, to standardize them),
  categorical features (with their vocabulary) and the label (class ids, class names or a
  number). The schema is a plain dict, saved as JSON next to the checkpoints.
- :func:`conform` checks another table (evaluation or prediction rows) against a schema and
  returns the feature arrays (float32 for numeric columns, str for categorical ones) and the
  labels.

Every error is an :class:`~tfest_adapters.exceptions.ArgumentError` whose message is one line
naming the argument, the file, the column and the line, what was expected and what was given.
"""

import csv
import difflib
import glob
import json
import os
import re

import numpy as np

from tfest_adapters import exceptions

# Model kinds and the label kinds they take.
CLASSIFIER = 'classifier'
REGRESSOR = 'regressor'
MODELS = (CLASSIFIER, REGRESSOR)

NUMERIC = 'numeric'
CATEGORICAL = 'categorical'
CLASS_IDS = 'class_ids'
CLASS_NAMES = 'class_names'

FORMATS = ('csv', 'npz', 'tfrecord')
_EXTENSIONS = {
    '.csv': 'csv', '.txt': 'csv', '.npz': 'npz',
    '.tfrecord': 'tfrecord', '.tfrecords': 'tfrecord', '.tfr': 'tfrecord',
}
_SPEC_DTYPES = ('float32', 'float64', 'int64', 'string')

# How many rows of the training data are kept in the run record, as a sample batch for export.
SAMPLE_ROWS = 3


def _fail(text):
  raise exceptions.ArgumentError(text)


def _quote_list(names, limit=12):
  names = list(names)
  text = ', '.join(repr(n) for n in names[:limit])
  if len(names) > limit:
    text += ', ... (%d in all)' % len(names)
  return text


def _did_you_mean(name, choices, fuzzy=True):
  """' (did you mean 'X'?)' when a column name is close to ``name``, else ''.

  Close is the same name in another case, or (``fuzzy``) a similar spelling.
  """
  choices = list(choices)
  for choice in choices:
    if choice.strip().lower() == str(name).strip().lower():
      return " (did you mean '%s'?)" % choice
  if not fuzzy:
    return ''
  close = difflib.get_close_matches(str(name), choices, n=1)
  return " (did you mean '%s'?)" % close[0] if close else ''


def _short(value, limit=40):
  text = str(value)
  return repr(text if len(text) <= limit else text[:limit - 3] + '...')


class Table(object):
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
  _fail('%s must be a .csv, .npz or .tfrecord file, given: %r; pass --format csv|npz|tfrecord '
        'to read a file with another extension' % (arg, path))


def _existing_files(path, arg, pattern):
  if pattern and glob.has_magic(path):
    files = sorted(glob.glob(path))
    if not files:
      _fail('%s must name existing files, given: %r (the pattern matches no file)' % (arg, path))
    return files
  if not os.path.exists(path):
    _fail('%s must be an existing file, given: %r (no such file)' % (arg, path))
  if os.path.isdir(path):
    _fail('%s must be a file, given: %r (a directory)' % (arg, path))
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
      _fail('%s %s is a TFRecord file: pass --feature-spec spec.json saying how to parse its '
            'tf.Examples (for example {"x": "float32", "label": "int64"})' % (arg, path))
    table = _read_tfrecord(files, path, arg, feature_spec)
  if table.num_rows == 0:
    _fail('%s must hold at least one example, given: %r, which has %s but no rows' % (
        arg, path, 'a header line' if file_format == 'csv' else 'no examples'))
  return table


def _read_csv(path, arg):
  import pandas as pd  # pylint: disable=g-import-not-at-top
  try:
    with open(path, newline='', encoding='utf-8-sig') as f:
      header = next(csv.reader(f), None)
  except UnicodeDecodeError:
    _fail('%s must be a UTF-8 text CSV file, given: %r, which is not text' % (arg, path))
  if not header or not any(h.strip() for h in header):
    _fail('%s must be a CSV file with a header line of column names, given: %r, which is '
          'empty' % (arg, path))
  header = [h.strip() for h in header]
  if '' in header:
    _fail('%s %s: the header line must name every column, given: column %d has no name' % (
        arg, path, header.index('') + 1))
  duplicates = sorted({h for h in header if header.count(h) > 1})
  if duplicates:
    _fail('%s %s: column names must be unique, given: %s more than once in the header line' % (
        arg, path, _quote_list(duplicates)))
  try:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                        skipinitialspace=True, encoding='utf-8-sig')
  except (pd.errors.ParserError, ValueError) as e:
    _fail('%s must be a valid CSV file, given: %r: %s' % (
        arg, path, str(e).strip().splitlines()[-1]))
  frame.columns = header
  columns = {name: np.asarray(frame[name].to_numpy(dtype=object), dtype=str)
             for name in header}
  return Table(columns, path, arg, 'csv')


def _read_npz(path, arg):
  try:
    with np.load(path, allow_pickle=False) as data:
      columns = {name: data[name] for name in data.files}
  except ValueError as e:
    if 'pickle' in str(e):
      _fail('%s %s must hold numeric or string arrays, given: an object array (arrays that need '
            'pickle are not read); save the column with a numeric or str dtype' % (arg, path))
    _fail('%s must be a .npz file written by numpy.savez, given: %r (%s)' % (arg, path, e))
  except (OSError, EOFError) as e:
    _fail('%s must be a .npz file written by numpy.savez, given: %r (%s)' % (arg, path, e))
  if not columns:
    _fail('%s must hold at least one array, given: %r, which holds none' % (arg, path))
  lengths = {name: (values.shape[0] if values.ndim else None)
             for name, values in columns.items()}
  for name, length in lengths.items():
    if length is None or columns[name].ndim > 2:
      _fail('%s %s: array %r must have shape [examples] or [examples, size], given: shape %s' % (
          arg, path, name, columns[name].shape))
  if len(set(lengths.values())) > 1:
    _fail('%s %s: every array must have the same number of examples (first axis), given: %s' % (
        arg, path, ', '.join('%s %d' % (n, l) for n, l in lengths.items())))
  for name, values in columns.items():
    if values.dtype.kind not in 'biufUS':
      _fail('%s %s: array %r must be numeric or str, given: dtype %s' % (
          arg, path, name, values.dtype))
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
    _fail('%s must be a JSON file, given: %r (%s)' % (arg, path, e))
  if not isinstance(raw, dict) or not raw:
    _fail('%s must be a JSON object of column name -> dtype, such as {"x": "float32", '
          '"label": "int64"}, given: %s' % (arg, _short(json.dumps(raw), 60)))
  spec = {}
  for name, entry in raw.items():
    if isinstance(entry, str):
      entry = {'dtype': entry}
    if not isinstance(entry, dict):
      _fail('%s: column %r must map to a dtype or {"dtype": ..., "shape": [...]}, given: %s' % (
          arg, name, _short(json.dumps(entry))))
    dtype, shape = entry.get('dtype'), entry.get('shape', [])
    if dtype not in _SPEC_DTYPES:
      _fail('%s: column %r must have a dtype among %s, given: %r' % (
          arg, name, ', '.join(_SPEC_DTYPES), dtype))
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
      _fail('%s: column %r must have a shape that is a list of positive ints, given: %r' % (
          arg, name, shape))
    if dtype == 'string' and shape:
      _fail('%s: string column %r must hold one value per example (shape []), given: shape %r' % (
          arg, name, shape))
    spec[name] = (dtype, tuple(shape))
  return spec


def _read_tfrecord(files, path, arg, feature_spec):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  parse_spec = {name: tf.io.FixedLenFeature(shape, tf.string if dtype == 'string' else dtype)
                for name, (dtype, shape) in feature_spec.items()}
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
    _fail('%s must be TFRecord files of tf.Example matching --feature-spec, given: %r: %s' % (
        arg, path, message.strip().splitlines()[0]))
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


# Parsing columns.


def _parse_numbers(values):
  """Parses a str column: (float64 numbers, missing mask, non-numeric mask)."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  stripped = np.char.strip(values)
  lowered = np.char.lower(stripped)
  missing = (stripped == '') | (lowered == 'nan') | (lowered == 'na')
  numbers = pd.to_numeric(pd.Series(np.where(missing, '0', stripped)),
                          errors='coerce').to_numpy(np.float64)
  bad = np.isnan(numbers) & ~missing
  return numbers, missing, bad


def _first(mask):
  return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def _as_numeric(table, name, arg_hint, trained_on=False):
  """The column as float64, refusing text, missing and non-finite values (one line each)."""
  values = table.columns[name]
  if values.dtype.kind in 'biuf':
    numbers = values.astype(np.float64)
    missing = np.isnan(numbers)
    bad = np.zeros_like(missing)
  else:
    numbers, missing, bad = _parse_numbers(values)
  if bad.any():
    row = _first(bad)
    _fail('%s column %r must be numeric%s, given: %s at %s%s' % (
        table.name, name, ' (the model was trained on numbers)' if trained_on else '',
        _short(values[row]), table.where(row), arg_hint))
  if missing.any():
    row = _first(missing)
    _fail('%s column %r must have a value on every row, given: an empty value at %s; fill it '
          'in or drop the row' % (table.name, name, table.where(row)))
  infinite = np.isinf(numbers)
  if infinite.any():
    row = _first(infinite)
    _fail('%s column %r must hold finite numbers, given: %s at %s' % (
        table.name, name, numbers.reshape(len(numbers), -1)[row][0], table.where(row)))
  return numbers


def numeric_column(table, name):
  """A column as float64, refusing text, missing and non-finite values (one line each)."""
  return _as_numeric(table, name, '')


def _as_strings(table, name):
  values = table.columns[name]
  if values.ndim != 1:
    _fail('%s column %r must hold one value per example to be categorical, given: shape %s' % (
        table.name, name, values.shape))
  if values.dtype.kind in 'fc':
    # 1.0 -> '1' so that npz floats and CSV ints name the same category.
    return np.asarray(['%g' % v for v in values], dtype=str)
  return np.char.strip(values.astype(str))


def _check_columns(table, names, what, fuzzy=True):
  missing = [n for n in names if n not in table.columns]
  if missing:
    name = missing[0]
    _fail('%s has no column %r%s (%s); its columns are: %s' % (
        table.name, name, _did_you_mean(name, table.columns, fuzzy), what,
        _quote_list(table.columns)))


# The schema.


def infer_schema(table, label, model, features=None, categorical=(), n_classes=None,
                 normalize=True):
  """Decides, from the training table, what the model sees. See the module docstring.

  Args:
    table: the training :class:`Table`.
    label: name of the label column.
    model: ``'classifier'`` or ``'regressor'``.
    features: names of the feature columns, or None for every column but the label.
    categorical: names of columns to treat as categorical even when they hold numbers.
    n_classes: for a classifier with class-id labels, the number of classes (default: largest
      id + 1).
    normalize: standardize numeric features with the training mean and standard deviation.

  Returns:
    dict with ``'features'`` (list of dicts: name, kind, shape, mean and std or vocabulary) and
    ``'label'`` (dict: name, kind, n_classes, vocabulary).
  """
  if label not in table.columns:
    _fail('--label must be a column of %s, given: %r%s; its columns are: %s' % (
        table.name, label, _did_you_mean(label, table.columns), _quote_list(table.columns)))
  if features is None:
    features = [n for n in table.columns if n != label]
  else:
    _check_columns(table, features, 'named by --features')
    if label in features:
      _fail('--features must not include the label column, given: %r in --features and '
            '--label' % label)
  unknown = [n for n in categorical if n not in features]
  if unknown:
    _fail('--categorical must name feature columns of %s, given: %r%s' % (
        table.name, unknown[0], _did_you_mean(unknown[0], features)))
  if not features:
    _fail('%s must have at least one feature column besides the label %r, given: only the label'
          % (table.name, label))
  columns = [_infer_feature(table, name, name in categorical, normalize) for name in features]
  for column, key in zip(columns, feature_keys(features)):
    column['key'] = key
  return {'features': columns, 'label': _infer_label(table, label, model, n_classes)}


def feature_keys(names):
  """TensorFlow-safe feature keys for column names: 'sepal length (cm)' -> 'sepal_length_cm'.

  Feature keys become name scopes (Keras' DenseFeatures) and serving placeholder names, which
  must match ``[A-Za-z0-9.][A-Za-z0-9_.-]*``; CSV headers often do not. Keys are unique.
  """
  keys, used = [], set()
  for name in names:
    key = re.sub(r'_+', '_', re.sub(r'[^A-Za-z0-9_.-]', '_', str(name)))
    key = re.sub(r'^[^A-Za-z0-9.]+', '', key).rstrip('_') or 'feature'
    unique, n = key, 1
    while unique in used:
      n += 1
      unique = '%s_%d' % (key, n)
    used.add(unique)
    keys.append(unique)
  return keys


def _infer_feature(table, name, force_categorical, normalize):
  values = table.columns[name]
  if values.dtype.kind in 'US' and not force_categorical:
    _, missing, bad = _parse_numbers(values)
    if missing.all():
      _fail('%s column %r must hold values, given: an empty value on every row; fill it in, '
            'or leave it out with --features' % (table.name, name))
    if not bad.any():
      return _numeric_feature(table, name, normalize)
    numbers = int((~bad & ~missing).sum())
    if numbers >= bad.sum():
      row = _first(bad)
      _fail('%s column %r looks numeric (%d of %d values are numbers) but holds %s at %s; fix '
            'the value, or pass --categorical %s to treat the column as categories' % (
                table.name, name, numbers, len(values), _short(values[row]),
                table.where(row), name))
  if force_categorical or values.dtype.kind in 'US':
    strings = _as_strings(table, name)
    vocabulary = sorted(set(strings.tolist()) - {''})
    if not vocabulary:
      _fail('%s column %r must hold values, given: an empty value on every row; fill it in, '
            'or leave it out with --features' % (table.name, name))
    return {'name': name, 'kind': CATEGORICAL, 'vocabulary': vocabulary}
  return _numeric_feature(table, name, normalize)


def _numeric_feature(table, name, normalize):
  numbers = _as_numeric(table, name, '; fix the value, or pass --categorical %s to treat the '
                        'column as categories' % name)
  shape = list(numbers.shape[1:])
  feature = {'name': name, 'kind': NUMERIC, 'shape': shape}
  if normalize:
    mean = numbers.mean(axis=0)
    std = numbers.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    feature['mean'] = np.round(mean, 9).tolist()
    feature['std'] = np.round(std, 9).tolist()
  return feature


def _infer_label(table, label, model, n_classes):
  values = table.columns[label]
  if values.ndim != 1:
    _fail('--label column %r of %s must hold one value per example, given: shape %s' % (
        label, table.name, values.shape))
  if model == REGRESSOR:
    _as_numeric(table, label, '; --model regressor needs a numeric label')
    return {'name': label, 'kind': NUMERIC}
  if values.dtype.kind in 'US':
    numbers, missing, bad = _parse_numbers(values)
    if missing.any():
      row = _first(missing)
      _fail('%s label column %r must have a value on every row, given: an empty value at %s' % (
          table.name, label, table.where(row)))
    if bad.any():
      names = sorted(set(np.char.strip(values).tolist()))
      if len(names) < 2:
        _fail('%s label column %r must hold at least 2 classes for --model classifier, given: '
              'only %r' % (table.name, label, names[0]))
      return {'name': label, 'kind': CLASS_NAMES, 'n_classes': len(names), 'vocabulary': names}
  else:
    numbers = values.astype(np.float64)
  not_ids = (numbers != np.round(numbers)) | (numbers < 0) | ~np.isfinite(numbers)
  if not_ids.any():
    row = _first(not_ids)
    _fail('%s label column %r must hold class ids (ints 0 to n_classes - 1) or class names for '
          '--model classifier, given: %s at %s; use --model regressor for a continuous '
          'target' % (table.name, label, _short(values[row]), table.where(row)))
  largest = int(numbers.max())
  if n_classes is None:
    n_classes = max(largest + 1, 2)
  elif n_classes <= largest:
    _fail('--n-classes must be greater than every class id in %s, given: %d, but %s holds '
          'class id %d' % (table.name, n_classes, label, largest))
  return {'name': label, 'kind': CLASS_IDS, 'n_classes': n_classes}


def conform(table, schema, with_labels):
  """Checks a table against a schema; returns (features dict, labels or None).

  The features dict is keyed by the schema's feature keys (see :func:`feature_keys`). Numeric
  features come back as float32 arrays of the trained shape, categorical ones as str
  arrays (values the model never saw are kept: they fall into the out-of-vocabulary bucket).
  Labels (when ``with_labels``) come back as int64 class ids, str class names or float32
  numbers, and must be classes the model knows.
  """
  names = [f['name'] for f in schema['features']]
  # Not fuzzy: a column missing from rows to predict is rarely a typo of another feature.
  _check_columns(table, names, 'the model was trained on %s' % ', '.join(names), fuzzy=False)
  features = {}
  for feature in schema['features']:
    name, key = feature['name'], feature['key']
    if feature['kind'] == NUMERIC:
      numbers = _as_numeric(table, name, '', trained_on=True)
      if list(numbers.shape[1:]) != list(feature['shape']):
        _fail('%s column %r must have shape %s per example as in training, given: %s' % (
            table.name, name, list(feature['shape']), list(numbers.shape[1:])))
      features[key] = numbers.astype(np.float32)
    else:
      features[key] = _as_strings(table, name)
  labels = None
  if with_labels:
    labels = conform_labels(table, schema['label'])
  return features, labels


def conform_labels(table, label_schema):
  """The label column of ``table`` checked against the trained label (see :func:`conform`)."""
  name = label_schema['name']
  if name not in table.columns:
    _fail('%s has no label column %r%s, needed to evaluate; its columns are: %s' % (
        table.name, name, _did_you_mean(name, table.columns), _quote_list(table.columns)))
  kind = label_schema['kind']
  if kind == NUMERIC:
    return _as_numeric(table, name, '', trained_on=True).astype(np.float32)
  if kind == CLASS_NAMES:
    strings = _as_strings(table, name)
    known = set(label_schema['vocabulary'])
    unknown = np.asarray([s not in known for s in strings.tolist()])
    if unknown.any():
      row = _first(unknown)
      _fail('%s label column %r must hold classes the model was trained on (%s), given: %s at '
            '%s' % (table.name, name, _quote_list(label_schema['vocabulary']),
                    _short(strings[row]), table.where(row)))
    return strings
  numbers = _as_numeric(table, name, '', trained_on=True)
  n_classes = label_schema['n_classes']
  bad = (numbers != np.round(numbers)) | (numbers < 0) | (numbers >= n_classes)
  if bad.any():
    row = _first(bad)
    _fail('%s label column %r must hold class ids 0 to %d as in training, given: %s at %s' % (
        table.name, name, n_classes - 1, _short(table.columns[name][row]), table.where(row)))
  return numbers.astype(np.int64)


def sample_rows(features, rows=SAMPLE_ROWS):
  """The first rows of conformed features, as JSON-ready lists (the export's sample batch).

  float32 values are written in their shortest form that reads back as the same float32 (5.1,
  not 5.099999904632568).
  """
  sample = {}
  for key, values in features.items():
    values = values[:rows]
    if values.dtype == np.float32:
      values = np.asarray([float(str(v)) for v in values.ravel()]).reshape(values.shape)
    sample[key] = values.tolist()
  return sample


def sample_features(schema, sample):
  """The sample batch of a run record back as numpy arrays of the trained dtypes."""
  kinds = {f['key']: f['kind'] for f in schema['features']}
  return {name: np.asarray(values, dtype=np.float32 if kinds[name] == NUMERIC else str)
          for name, values in sample.items()}


def describe_schema(schema):
  """'4 numeric, 1 categorical features' for the training banner."""
  counts = {}
  for feature in schema['features']:
    counts[feature['kind']] = counts.get(feature['kind'], 0) + 1
  return ', '.join('%d %s' % (counts[k], k) for k in (NUMERIC, CATEGORICAL) if k in counts)
