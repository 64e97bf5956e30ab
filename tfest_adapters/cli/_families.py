"""The model template of a run record and its params: a DNN, a linear model, or wide and deep.

The DNN reads numeric columns and one-hot or embedded categorical ones; the linear model reads
the categorical columns as they are (one weight per category, an extra bucket for unseen ones),
the numeric ones and the crosses asked for; wide and deep puts the categorical columns and the
crosses in its linear part and the DNN's columns in its DNN.
"""

import numpy as np
import tensorflow as tf

from tfest_adapters import models
from tfest_adapters.cli import _record as record_lib
from tfest_adapters.cli import _schema as schema_lib

# Categorical columns with at most this many values are one-hot encoded; larger ones get an
# embedding of dimension ~ 6 * size ** 0.25 (the rule of thumb of TensorFlow's feature column
# guide).
MAX_ONE_HOT = 32
# The hash buckets of a cross: the number of value pairs (unseen values included), capped.
MAX_CROSS_BUCKETS = 10000

_MODEL_FNS = {
  (schema_lib.CLASSIFIER, record_lib.DNN): models.classifier_model_fn,
  (schema_lib.REGRESSOR, record_lib.DNN): models.regressor_model_fn,
  (schema_lib.CLASSIFIER, record_lib.LINEAR): models.linear_classifier_model_fn,
  (schema_lib.REGRESSOR, record_lib.LINEAR): models.linear_regressor_model_fn,
  (schema_lib.CLASSIFIER, record_lib.WIDE_DEEP): models.wide_deep_classifier_model_fn,
  (schema_lib.REGRESSOR, record_lib.WIDE_DEEP): models.wide_deep_regressor_model_fn,
}

# params key -> the tfest train flag that sets it, to name flags in the template's messages.
FLAGS = {
  'hidden_units': '--hidden-units',
  'dnn_hidden_units': '--hidden-units',
  'optimizer': '--optimizer',
  'dnn_optimizer': '--optimizer',
  'learning_rate': '--learning-rate',
  'dnn_learning_rate': '--learning-rate',
  'dropout': '--dropout',
  'dnn_dropout': '--dropout',
  'activation': '--activation',
  'dnn_activation_fn': '--activation',
  'n_classes': '--n-classes',
  'steps_per_run': '--steps-per-run',
}
# The DNN's option -> its name in the wide-and-deep params.
_WIDE_DEEP_OPTIONS = {
  'optimizer': 'dnn_optimizer',
  'learning_rate': 'dnn_learning_rate',
  'activation': 'dnn_activation_fn',
  'dropout': 'dnn_dropout',
}


def model_fn_of(record):
  """The template of a run record."""
  return _MODEL_FNS[(record['model'], record_lib.family(record))]


def _standardizer(mean, std):
  mean = np.asarray(mean, np.float32)
  std = np.asarray(std, np.float32)

  def standardize(x):
    return (x - mean) / std

  return standardize


def _numeric(feature):
  normalizer = None
  if 'mean' in feature:
    normalizer = _standardizer(feature['mean'], feature['std'])
  return tf.feature_column.numeric_column(
    feature['key'], shape=tuple(feature['shape']), normalizer_fn=normalizer
  )


def _categories(feature):
  # Values never seen in training (at evaluation or serving time) go to one extra bucket.
  return tf.feature_column.categorical_column_with_vocabulary_list(
    feature['key'], feature['vocabulary'], num_oov_buckets=1
  )


def feature_columns(schema):
  """The DNN's columns of a schema (see :func:`._schema.infer_schema`)."""
  columns = []
  for feature in schema['features']:
    if feature['kind'] == schema_lib.NUMERIC:
      columns.append(_numeric(feature))
      continue
    categories = _categories(feature)
    size = len(feature['vocabulary'])
    if size <= MAX_ONE_HOT:
      columns.append(tf.feature_column.indicator_column(categories))
    else:
      dimension = int(min(50, np.ceil(6 * (size + 1) ** 0.25)))
      columns.append(tf.feature_column.embedding_column(categories, dimension))
  return columns


def wide_columns(schema, crosses, numeric=True):
  """The linear model's columns: categorical ones as they are, the crosses, numeric ones."""
  columns = []
  by_name = {f['name']: f for f in schema['features']}
  for feature in schema['features']:
    if feature['kind'] == schema_lib.CATEGORICAL:
      columns.append(_categories(feature))
    elif numeric:
      columns.append(_numeric(feature))
  for cross in crosses:
    features = [by_name[name] for name in cross]
    buckets = int(np.prod([len(f['vocabulary']) + 1 for f in features], dtype=np.float64))
    columns.append(
      tf.feature_column.crossed_column(
        [f['key'] for f in features], min(buckets, MAX_CROSS_BUCKETS)
      )
    )
  return columns


def params_of(record, steps_per_run=None):
  """The model_fn params of a run record."""
  schema, family = record['schema'], record_lib.family(record)
  options = {k: v for k, v in record.get('options', {}).items() if v is not None}
  crosses = record.get('crosses', [])
  if family == record_lib.DNN:
    params = dict(feature_columns=feature_columns(schema), hidden_units=record['hidden_units'])
    params.update(options)
  elif family == record_lib.LINEAR:
    params = dict(feature_columns=wide_columns(schema, crosses))
    params.update(options)
  else:
    params = dict(
      linear_feature_columns=wide_columns(schema, crosses, numeric=False) or None,
      dnn_feature_columns=feature_columns(schema),
      dnn_hidden_units=list(record['hidden_units']),
    )
    params.update({_WIDE_DEEP_OPTIONS[k]: v for k, v in options.items()})
  label = schema['label']
  if record['model'] == schema_lib.CLASSIFIER:
    params['n_classes'] = label['n_classes']
    if label['kind'] == schema_lib.CLASS_NAMES:
      params['label_vocabulary'] = list(label['vocabulary'])
  if steps_per_run is not None:
    params['steps_per_run'] = steps_per_run
  return params
