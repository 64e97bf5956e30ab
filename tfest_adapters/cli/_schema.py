"""What the CLI's model sees of a data table: the schema inferred from training, and conforming.

:func:`infer_schema` decides from the training table what each column is; :func:`conform` checks
another table against that schema and returns its arrays. The schema is a plain dict kept in the
run record. Nothing here imports TensorFlow.
"""

import re

import numpy as np

from tfest_adapters.cli import _messages as messages

# Model kinds and the label kinds they take.
CLASSIFIER = 'classifier'
REGRESSOR = 'regressor'
MODELS = (CLASSIFIER, REGRESSOR)

NUMERIC = 'numeric'
CATEGORICAL = 'categorical'
CLASS_IDS = 'class_ids'
CLASS_NAMES = 'class_names'

# How many rows of the training data are kept in the run record, as a sample batch for export.
SAMPLE_ROWS = 3


def parse_numbers(values):
  """Parses a str column: (float64 numbers, missing mask, non-numeric mask)."""
  import pandas as pd

  stripped = np.char.strip(values)
  lowered = np.char.lower(stripped)
  missing = (stripped == '') | (lowered == 'nan') | (lowered == 'na')
  numbers = pd.to_numeric(pd.Series(np.where(missing, '0', stripped)), errors='coerce').to_numpy(
    np.float64
  )
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
    numbers, missing, bad = parse_numbers(values)
  if bad.any():
    row = _first(bad)
    messages.fail(
      '%s column %r must be numeric%s, given: %s at %s%s'
      % (
        table.name,
        name,
        ' (the model was trained on numbers)' if trained_on else '',
        messages.short(values[row]),
        table.where(row),
        arg_hint,
      )
    )
  if missing.any():
    row = _first(missing)
    messages.fail(
      '%s column %r must have a value on every row, given: an empty value at %s; '
      'fill it in or drop the row' % (table.name, name, table.where(row))
    )
  infinite = np.isinf(numbers)
  if infinite.any():
    row = _first(infinite)
    messages.fail(
      '%s column %r must hold finite numbers, given: %s at %s'
      % (table.name, name, numbers.reshape(len(numbers), -1)[row][0], table.where(row))
    )
  return numbers


def numeric_column(table, name):
  """A column as float64, refusing text, missing and non-finite values (one line each)."""
  return _as_numeric(table, name, '')


def _as_strings(table, name):
  values = table.columns[name]
  if values.ndim != 1:
    messages.fail(
      '%s column %r must hold one value per example to be categorical, given: '
      'shape %s' % (table.name, name, values.shape)
    )
  if values.dtype.kind in 'fc':
    # 1.0 -> '1' so that npz floats and CSV ints name the same category.
    return np.asarray(['%g' % v for v in values], dtype=str)
  return np.char.strip(values.astype(str))


def _check_columns(table, names, what, fuzzy=True):
  missing = [n for n in names if n not in table.columns]
  if missing:
    name = missing[0]
    messages.fail(
      '%s has no column %r%s (%s); its columns are: %s'
      % (
        table.name,
        name,
        messages.did_you_mean(name, table.columns, fuzzy),
        what,
        messages.quote_list(table.columns),
      )
    )


# The schema.


def infer_schema(
  table, label, model, features=None, categorical=(), n_classes=None, normalize=True
):
  """Decides, from the training table, what the model sees of each column.

  Numeric features keep their mean and standard deviation (to standardize them), categorical
  ones their vocabulary; the label is class ids, class names or a number.

  Args:
    table: the training :class:`~tfest_adapters.cli._readers.Table`.
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
    messages.fail(
      '--label must be a column of %s, given: %r%s; its columns are: %s'
      % (
        table.name,
        label,
        messages.did_you_mean(label, table.columns),
        messages.quote_list(table.columns),
      )
    )
  if features is None:
    features = [n for n in table.columns if n != label]
  else:
    _check_columns(table, features, 'named by --features')
    if label in features:
      messages.fail(
        '--features must not include the label column, given: %r in --features and --label' % label
      )
  unknown = [n for n in categorical if n not in features]
  if unknown:
    messages.fail(
      '--categorical must name feature columns of %s, given: %r%s'
      % (table.name, unknown[0], messages.did_you_mean(unknown[0], features))
    )
  if not features:
    messages.fail(
      '%s must have at least one feature column besides the label %r, given: only '
      'the label' % (table.name, label)
    )
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
    _, missing, bad = parse_numbers(values)
    if missing.all():
      messages.fail(
        '%s column %r must hold values, given: an empty value on every row; fill it '
        'in, or leave it out with --features' % (table.name, name)
      )
    if not bad.any():
      return _numeric_feature(table, name, normalize)
    numbers = int((~bad & ~missing).sum())
    if numbers >= bad.sum():
      row = _first(bad)
      messages.fail(
        '%s column %r looks numeric (%d of %d values are numbers) but holds %s at '
        '%s; fix the value, or pass --categorical %s to treat the column as '
        'categories'
        % (
          table.name,
          name,
          numbers,
          len(values),
          messages.short(values[row]),
          table.where(row),
          name,
        )
      )
  if force_categorical or values.dtype.kind in 'US':
    strings = _as_strings(table, name)
    vocabulary = sorted(set(strings.tolist()) - {''})
    if not vocabulary:
      messages.fail(
        '%s column %r must hold values, given: an empty value on every row; fill it '
        'in, or leave it out with --features' % (table.name, name)
      )
    return {'name': name, 'kind': CATEGORICAL, 'vocabulary': vocabulary}
  return _numeric_feature(table, name, normalize)


def _numeric_feature(table, name, normalize):
  numbers = _as_numeric(
    table,
    name,
    '; fix the value, or pass --categorical %s to treat the column as categories' % name,
  )
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
    messages.fail(
      '--label column %r of %s must hold one value per example, given: shape %s'
      % (label, table.name, values.shape)
    )
  if model == REGRESSOR:
    _as_numeric(table, label, '; --model regressor needs a numeric label')
    return {'name': label, 'kind': NUMERIC}
  if values.dtype.kind in 'US':
    numbers, missing, bad = parse_numbers(values)
    if missing.any():
      row = _first(missing)
      messages.fail(
        '%s label column %r must have a value on every row, given: an empty value '
        'at %s' % (table.name, label, table.where(row))
      )
    if bad.any():
      names = sorted(set(np.char.strip(values).tolist()))
      if len(names) < 2:
        messages.fail(
          '%s label column %r must hold at least 2 classes for --model classifier, '
          'given: only %r' % (table.name, label, names[0])
        )
      return {'name': label, 'kind': CLASS_NAMES, 'n_classes': len(names), 'vocabulary': names}
  else:
    numbers = values.astype(np.float64)
  not_ids = (numbers != np.round(numbers)) | (numbers < 0) | ~np.isfinite(numbers)
  if not_ids.any():
    row = _first(not_ids)
    messages.fail(
      '%s label column %r must hold class ids (ints 0 to n_classes - 1) or class '
      'names for --model classifier, given: %s at %s; use --model regressor for a '
      'continuous target' % (table.name, label, messages.short(values[row]), table.where(row))
    )
  largest = int(numbers.max())
  if n_classes is None:
    n_classes = max(largest + 1, 2)
  elif n_classes <= largest:
    messages.fail(
      '--n-classes must be greater than every class id in %s, given: %d, but %s '
      'holds class id %d' % (table.name, n_classes, label, largest)
    )
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
        messages.fail(
          '%s column %r must have shape %s per example as in training, given: %s'
          % (table.name, name, list(feature['shape']), list(numbers.shape[1:]))
        )
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
    messages.fail(
      '%s has no label column %r%s, needed to evaluate; its columns are: %s'
      % (
        table.name,
        name,
        messages.did_you_mean(name, table.columns),
        messages.quote_list(table.columns),
      )
    )
  kind = label_schema['kind']
  if kind == NUMERIC:
    return _as_numeric(table, name, '', trained_on=True).astype(np.float32)
  if kind == CLASS_NAMES:
    strings = _as_strings(table, name)
    known = set(label_schema['vocabulary'])
    unknown = np.asarray([s not in known for s in strings.tolist()])
    if unknown.any():
      row = _first(unknown)
      messages.fail(
        '%s label column %r must hold classes the model was trained on (%s), given: '
        '%s at %s'
        % (
          table.name,
          name,
          messages.quote_list(label_schema['vocabulary']),
          messages.short(strings[row]),
          table.where(row),
        )
      )
    return strings
  numbers = _as_numeric(table, name, '', trained_on=True)
  n_classes = label_schema['n_classes']
  bad = (numbers != np.round(numbers)) | (numbers < 0) | (numbers >= n_classes)
  if bad.any():
    row = _first(bad)
    messages.fail(
      '%s label column %r must hold class ids 0 to %d as in training, given: %s at '
      '%s'
      % (
        table.name,
        name,
        n_classes - 1,
        messages.short(table.columns[name][row]),
        table.where(row),
      )
    )
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
  return {
    name: np.asarray(values, dtype=np.float32 if kinds[name] == NUMERIC else str)
    for name, values in sample.items()
  }


def describe_schema(schema):
  """'4 numeric, 1 categorical features' for the training banner."""
  counts = {}
  for feature in schema['features']:
    counts[feature['kind']] = counts.get(feature['kind'], 0) + 1
  return ', '.join('%d %s' % (counts[k], k) for k in (NUMERIC, CATEGORICAL) if k in counts)
