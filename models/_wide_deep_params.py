"""The params of wide_deep_classifier_model_fn and wide_deep_regressor_model_fn, checked.

Keys and defaults are tf.estimator.DNNLinearCombinedClassifier's constructor arguments, plus
the learning rate of each optimizer given by name.
"""

import collections
import math

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import validation
from tfest_adapters.models import _linear_params
from tfest_adapters.models import _networks
from tfest_adapters.models import _params

# canned/dnn_linear_combined.py's _LINEAR_LEARNING_RATE (a cap) and _DNN_LEARNING_RATE.
LINEAR_LEARNING_RATE = 0.005
DNN_LEARNING_RATE = 0.001

_WIDE_DEEP = [
  ('linear_feature_columns', 'columns of the linear (wide) part, any kind'),
  ('linear_optimizer', "'Ftrl' (default) or another name, or an optimizer"),
  (
    'linear_learning_rate',
    'with a name, default min(%s, 1/sqrt(len(linear_feature_columns))) as canned'
    % LINEAR_LEARNING_RATE,
  ),
  ('linear_sparse_combiner', "'sum' (default), 'mean' or 'sqrtn'"),
  ('dnn_feature_columns', 'dense columns of the DNN (deep) part'),
  ('dnn_hidden_units', 'units per hidden layer, e.g. [10, 10] (required with DNN columns)'),
  ('dnn_optimizer', "'Adagrad' (default) or another name, or an optimizer"),
  ('dnn_learning_rate', 'with a name, default %s as canned' % DNN_LEARNING_RATE),
  ('dnn_activation_fn', "hidden layer activation, default 'relu'; None: none"),
  ('dnn_dropout', 'None (default) or drop probability in TRAIN'),
  ('batch_norm', 'batch-normalise hidden layers, default False'),
]
WIDE_DEEP_CLASSIFIER_KEYS = collections.OrderedDict(
  _WIDE_DEEP + _linear_params.CLASSIFIER_HEAD_KEYS + _linear_params.STEPS_PER_RUN_KEY
)
WIDE_DEEP_REGRESSOR_KEYS = collections.OrderedDict(
  _WIDE_DEEP + _linear_params.REGRESSOR_HEAD_KEYS + _linear_params.STEPS_PER_RUN_KEY
)
_DNN_ONLY = (
  'dnn_hidden_units',
  'dnn_optimizer',
  'dnn_learning_rate',
  'dnn_activation_fn',
  'dnn_dropout',
  'batch_norm',
)
_LINEAR_ONLY = ('linear_optimizer', 'linear_learning_rate', 'linear_sparse_combiner')

WideDeepParams = collections.namedtuple(
  'WideDeepParams',
  [
    'linear_feature_columns',
    'linear_optimizer_fn',
    'linear_sparse_combiner',
    'dnn_feature_columns',
    'dnn_hidden_units',
    'dnn_optimizer_fn',
    'dnn_activation_fn',
    'dnn_dropout',
    'batch_norm',
    'weight_column',
    'n_classes',
    'label_vocabulary',
    'label_dimension',
    'auc_num_thresholds',
    'steps_per_run',
  ],
)

_name = _linear_params.name


def _optional_columns(params, key):
  """A part's columns: a tuple, or () when the key is absent, None or an empty list."""
  columns = params.get(key)
  if columns is None or (isinstance(columns, (list, tuple)) and not columns):
    return ()
  return _linear_params.check_columns(key, columns, dense=key.startswith('dnn'))


def _validate_parts(params, linear_columns, dnn_columns, template):
  """At least one part; no option of a part that has no columns."""
  if not linear_columns and not dnn_columns:
    raise exceptions.ArgumentKeyError(
      'params must have "linear_feature_columns" or "dnn_feature_columns" (or both) for %s, '
      'e.g. linear_feature_columns=[a categorical or crossed column] and '
      'dnn_feature_columns=[tf.feature_column.numeric_column(...), an embedding column]' % template
    )
  for part, columns, keys in (
    ('dnn', dnn_columns, _DNN_ONLY),
    ('linear', linear_columns, _LINEAR_ONLY),
  ):
    given = [k for k in keys if params.get(k) is not None and params.get(k) is not False]
    if not columns and given:
      validation.fail(
        _name(given[0]),
        'absent without params["%s_feature_columns"]' % part,
        params[given[0]],
        'give the %s part its columns, or drop %s' % (part, ', '.join(given)),
      )


def _validate_hidden_units(params):
  hidden_units = params.get('dnn_hidden_units')
  if not hidden_units:
    validation.fail(
      _name('dnn_hidden_units'),
      'a non-empty list of positive ints with params["dnn_feature_columns"]',
      hidden_units,
      'e.g. [10, 10] for two hidden layers of 10 units',
    )
  return _networks.check_hidden_units(_name('dnn_hidden_units'), hidden_units)


def _validate_activation(params):
  if 'dnn_activation_fn' not in params:
    return tf.nn.relu
  return _networks.check_activation(_name('dnn_activation_fn'), params['dnn_activation_fn'])


def _wide_deep_params(params, accepted, template, classifier):
  params = _params.check_keys(
    params, accepted, template, example='linear_feature_columns=[...], dnn_feature_columns=[...]'
  )
  linear_columns = _optional_columns(params, 'linear_feature_columns')
  dnn_columns = _optional_columns(params, 'dnn_feature_columns')
  _validate_parts(params, linear_columns, dnn_columns, template)
  _linear_params.check_one_parse_spec(
    'params["linear_feature_columns"] and params["dnn_feature_columns"]',
    linear_columns + dnn_columns,
  )
  values = dict(
    linear_feature_columns=linear_columns,
    dnn_feature_columns=dnn_columns,
    linear_optimizer_fn=None,
    linear_sparse_combiner='sum',
    dnn_hidden_units=(),
    dnn_optimizer_fn=None,
    dnn_activation_fn=tf.nn.relu,
    dnn_dropout=None,
    batch_norm=False,
  )
  if linear_columns:
    values.update(
      linear_optimizer_fn=_linear_params.optimizer_fn(
        params,
        'linear_optimizer',
        'Ftrl',
        'linear_learning_rate',
        min(LINEAR_LEARNING_RATE, 1.0 / math.sqrt(len(linear_columns))),
      ),
      linear_sparse_combiner=_linear_params.sparse_combiner(params, 'linear_sparse_combiner'),
    )
  if dnn_columns:
    values.update(
      dnn_hidden_units=_validate_hidden_units(params),
      dnn_optimizer_fn=_linear_params.optimizer_fn(
        params, 'dnn_optimizer', 'Adagrad', 'dnn_learning_rate', DNN_LEARNING_RATE
      ),
      dnn_activation_fn=_validate_activation(params),
      dnn_dropout=_networks.check_dropout(_name('dnn_dropout'), params.get('dnn_dropout')),
      batch_norm=validation.check_bool(_name('batch_norm'), params.get('batch_norm', False)),
    )
  return WideDeepParams(
    steps_per_run=_linear_params.steps_per_run(params),
    **values,
    **_linear_params.head_values(params, template, classifier),
  )


def wide_deep_classifier_params(params):
  """Checks wide_deep_classifier_model_fn's params; returns a :class:`WideDeepParams`."""
  return _wide_deep_params(params, WIDE_DEEP_CLASSIFIER_KEYS, 'wide_deep_classifier_model_fn', True)


def wide_deep_regressor_params(params):
  """Checks wide_deep_regressor_model_fn's params; returns a :class:`WideDeepParams`."""
  return _wide_deep_params(params, WIDE_DEEP_REGRESSOR_KEYS, 'wide_deep_regressor_model_fn', False)
