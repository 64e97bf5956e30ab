"""The params of linear_classifier_model_fn and linear_regressor_model_fn, checked.

Keys and defaults are tf.estimator.LinearClassifier's constructor arguments, plus the learning
rate of an optimizer given by name. The column, optimizer and head checks here are shared with
the wide-and-deep params (``_wide_deep_params``).
"""

import collections
import math

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.models import _heads
from tfest_adapters.models import _optimizers
from tfest_adapters.models import _params

# canned/linear.py's _LEARNING_RATE: an optimizer given by name gets it.
LINEAR_LEARNING_RATE = 0.2
SPARSE_COMBINERS = ('sum', 'mean', 'sqrtn')

CLASSIFIER_HEAD_KEYS = [
  ('n_classes', 'number of classes, default 2 (or the size of label_vocabulary)'),
  ('label_vocabulary', 'class names, when labels are strings'),
  ('weight_column', 'feature holding per-example loss weights, default None'),
  ('auc_num_thresholds', "thresholds of the binary auc metrics, default 200 (TF's)"),
]
REGRESSOR_HEAD_KEYS = [
  ('label_dimension', 'number of regression targets, default 1'),
  ('weight_column', 'feature holding per-example loss weights, default None'),
]
STEPS_PER_RUN_KEY = [
  (
    'steps_per_run',
    'training steps per session.run, default 1; above 1 the input_fn yields groups of '
    'batches (the builders do, from these params)',
  ),
]
_LINEAR = [
  ('feature_columns', 'tf.feature_column columns of any kind (required)'),
  ('optimizer', "'Ftrl' (default), 'Adagrad', 'Adam', 'RMSProp', 'SGD' or an optimizer"),
  ('learning_rate', 'with an optimizer name, default %s as canned' % LINEAR_LEARNING_RATE),
  ('sparse_combiner', "'sum' (default), 'mean' or 'sqrtn' for multivalent categories"),
]
LINEAR_CLASSIFIER_KEYS = collections.OrderedDict(_LINEAR + CLASSIFIER_HEAD_KEYS + STEPS_PER_RUN_KEY)
LINEAR_REGRESSOR_KEYS = collections.OrderedDict(_LINEAR + REGRESSOR_HEAD_KEYS + STEPS_PER_RUN_KEY)

LinearParams = collections.namedtuple(
  'LinearParams',
  [
    'feature_columns',
    'optimizer_fn',
    'sparse_combiner',
    'weight_column',
    'n_classes',
    'label_vocabulary',
    'label_dimension',
    'auc_num_thresholds',
    'steps_per_run',
  ],
)


def name(key):
  return 'params["%s"]' % key


def _is_sequence_column(column):
  # sequence_numeric_column, sequence_categorical_column_with_*: they feed RNNs.
  return type(column).__name__.startswith('Sequence')


def check_columns(key, columns, dense):
  """Returns ``columns`` as a tuple of tf.feature_column columns; all dense when ``dense``.

  The linear model takes every kind of column (a categorical one is one weight per bucket);
  the DNN takes dense columns only (numeric, bucketized, embedding, indicator).
  """
  if (
    isinstance(columns, (str, bytes, dict))
    or not isinstance(columns, (list, tuple, set, frozenset))
    or not columns
  ):
    validation.fail(
      name(key),
      'a non-empty list of tf.feature_column columns',
      columns,
      "e.g. [tf.feature_column.numeric_column('age')]",
      error=exceptions.ArgumentTypeError,
    )
  columns = tuple(columns)
  for i, column in enumerate(columns):
    item = '%s[%d]' % (name(key), i)
    if not isinstance(column, tf.__internal__.feature_column.FeatureColumn):
      validation.fail(
        item,
        'a tf.feature_column column',
        column,
        "e.g. tf.feature_column.numeric_column('%s')" % column if isinstance(column, str) else None,
        error=exceptions.ArgumentTypeError,
      )
    if _is_sequence_column(column):
      validation.fail(
        item,
        'a non-sequence column',
        column,
        'sequence columns feed RNNs; use the plain tf.feature_column columns',
      )
    if dense and not isinstance(column, tf.__internal__.feature_column.DenseColumn):
      validation.fail(
        item,
        'a dense column',
        column,
        'the DNN takes dense columns: wrap a categorical column as '
        'tf.feature_column.indicator_column(column) or '
        'tf.feature_column.embedding_column(column, dimension=8), or give it to the linear '
        'part as it is',
      )
  names = [column.name for column in columns]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    validation.fail(
      name(key), 'a list of distinct columns', names, 'remove the duplicates of %s' % duplicates
    )
  check_one_parse_spec(name(key), columns)
  return columns


def check_one_parse_spec(what, columns):
  """Refuses columns reading one feature in two ways (e.g. as a number and as a weight)."""
  try:
    tf.feature_column.make_parse_example_spec(columns)
  except ValueError as err:
    raise exceptions.ArgumentError(
      '%s read one feature in two ways: %s. Give each column its own feature, or read the '
      'feature the same way in each (e.g. a numeric and a bucketized column of one '
      'numeric_column)' % (what, err)
    ) from err


def optimizer_fn(params, key, default, learning_rate_key, default_learning_rate):
  """make_optimizer_fn of a params optimizer; a name gets the canned default learning rate."""
  optimizer = params.get(key)
  if optimizer is None:
    optimizer = default
  learning_rate = params.get(learning_rate_key)
  if learning_rate is None and isinstance(optimizer, str):
    learning_rate = default_learning_rate
  return _optimizers.make_optimizer_fn(optimizer, learning_rate, name=name(key))


def sparse_combiner(params, key):
  return validation.check_one_of(
    name(key),
    params.get(key, 'sum'),
    SPARSE_COMBINERS,
    "'sum' as canned; 'mean' or 'sqrtn' for bags of words",
  )


def head_values(params, template, classifier):
  """The head's params checked: n_classes (default 2) or label_dimension, weight column, auc."""
  weight_column = _heads.check_weight_column(name('weight_column'), params.get('weight_column'))
  if classifier:
    n_classes, vocabulary = _params.check_n_classes_and_vocabulary(
      params, template, default_n_classes=2
    )
    return dict(
      weight_column=weight_column,
      n_classes=n_classes,
      label_vocabulary=vocabulary,
      label_dimension=None,
      auc_num_thresholds=_params.check_auc_num_thresholds(params, n_classes),
    )
  label_dimension = validation.check_positive_int(
    name('label_dimension'), params.get('label_dimension', 1)
  )
  return dict(
    weight_column=weight_column,
    n_classes=None,
    label_vocabulary=None,
    label_dimension=label_dimension,
    auc_num_thresholds=None,
  )


def steps_per_run(params):
  return groups.check_params_steps_per_run(params.get('steps_per_run', 1))


def _validate_feature_columns(params, template):
  if 'feature_columns' not in params:
    raise exceptions.ArgumentKeyError(
      'params must have "feature_columns" for %s, e.g. params["feature_columns"]='
      "[tf.feature_column.categorical_column_with_vocabulary_list('color', ['red', "
      "'green']), tf.feature_column.numeric_column('age')]" % template
    )
  return check_columns('feature_columns', params['feature_columns'], dense=False)


def _validate_optimizer(params, columns):
  if 'optimizer' in params and params['optimizer'] is None:
    # Canned's optimizer=None: Ftrl with a learning rate capped by the number of columns.
    return optimizer_fn(
      params,
      'optimizer',
      'Ftrl',
      'learning_rate',
      min(LINEAR_LEARNING_RATE, 1.0 / math.sqrt(len(columns))),
    )
  return optimizer_fn(params, 'optimizer', 'Ftrl', 'learning_rate', LINEAR_LEARNING_RATE)


def _linear_params(params, accepted, template, classifier):
  params = _params.check_keys(params, accepted, template, example='feature_columns=[...]')
  columns = _validate_feature_columns(params, template)
  return LinearParams(
    feature_columns=columns,
    optimizer_fn=_validate_optimizer(params, columns),
    sparse_combiner=sparse_combiner(params, 'sparse_combiner'),
    steps_per_run=steps_per_run(params),
    **head_values(params, template, classifier),
  )


def linear_classifier_params(params):
  """Checks linear_classifier_model_fn's params; returns a normalised :class:`LinearParams`."""
  return _linear_params(params, LINEAR_CLASSIFIER_KEYS, 'linear_classifier_model_fn', True)


def linear_regressor_params(params):
  """Checks linear_regressor_model_fn's params; returns a normalised :class:`LinearParams`."""
  return _linear_params(params, LINEAR_REGRESSOR_KEYS, 'linear_regressor_model_fn', False)
