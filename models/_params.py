"""The params of classifier_model_fn and regressor_model_fn, checked before any op is built.

A typo or a bad value fails with a message naming the key, what was expected, what was given
and a fix, before any graph, session or checkpoint is touched.
"""

import collections
import difflib

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.models import _heads
from tfest_adapters.models import _networks
from tfest_adapters.models import _optimizers

# Key -> one-line description, for the error listing the accepted keys.
_COMMON = collections.OrderedDict(
  [
    ('feature_columns', 'dense tf.feature_column columns (or feature_keys)'),
    ('feature_keys', 'names of numeric features (or feature_columns)'),
    ('hidden_units', 'units per hidden layer, e.g. [10, 10] (required)'),
    ('optimizer', "'Adagrad' (default), 'Adam', 'Ftrl', 'RMSProp', 'SGD' or an optimizer"),
    ('learning_rate', "with an optimizer name; default: that optimizer's own"),
    ('dropout', 'None (default) or drop probability in TRAIN'),
    ('activation', "hidden layer activation, default 'relu'; None: none"),
    ('batch_norm', 'batch-normalise hidden layers, default False'),
    ('weight_column', 'feature holding per-example loss weights, default None'),
    (
      'steps_per_run',
      'training steps per session.run, default 1; above 1 the input_fn '
      'yields groups of batches (the builders do, from these params)',
    ),
  ]
)
CLASSIFIER_KEYS = collections.OrderedDict(
  list(_COMMON.items())
  + [
    ('n_classes', 'number of classes, >= 2 (required unless label_vocabulary)'),
    ('label_vocabulary', 'class names, when labels are strings'),
    ('auc_num_thresholds', "thresholds of the binary auc metrics, default 200 (TF's)"),
  ]
)
REGRESSOR_KEYS = collections.OrderedDict(
  list(_COMMON.items())
  + [
    ('label_dimension', 'number of regression targets, default 1'),
  ]
)

DNNParams = collections.namedtuple(
  'DNNParams',
  [
    'feature_columns',
    'hidden_units',
    'optimizer_fn',
    'activation',
    'dropout',
    'batch_norm',
    'weight_column',
    'n_classes',
    'label_vocabulary',
    'label_dimension',
    'steps_per_run',
    'auc_num_thresholds',
  ],
)


def _name(key):
  return 'params["%s"]' % key


def check_keys(params, accepted, template, example='feature_keys=[...], hidden_units=[10, 10]'):
  """Returns ``params`` (a dict; None is {}) if every key is in ``accepted``; names a typo."""
  if params is None:
    params = {}
  if not isinstance(params, dict):
    validation.fail(
      'params',
      'a dict',
      params,
      'e.g. params=dict(%s)' % example,
      error=exceptions.ArgumentTypeError,
    )
  for key in params:
    if key not in accepted:
      close = difflib.get_close_matches(str(key), list(accepted), n=1)
      raise exceptions.ArgumentKeyError(
        'params has an unknown key %r for %s%s. Accepted keys: %s'
        % (
          key,
          template,
          " (did you mean '%s'?)" % close[0] if close else '',
          '; '.join('%s: %s' % kv for kv in accepted.items()),
        )
      )
  return params


def _validate_hidden_units(params, template):
  if 'hidden_units' not in params:
    raise exceptions.ArgumentKeyError(
      'params must have "hidden_units" for %s, e.g. params["hidden_units"]=[10, 10] for two '
      'hidden layers of 10 units' % template
    )
  hidden_units = _networks.check_hidden_units(_name('hidden_units'), params['hidden_units'])
  if not hidden_units:
    # An empty list is almost always a slip (a parsed "" or a filtered list); a DNN template
    # without hidden layers is not what was asked for. dnn_network_fn still allows it.
    validation.fail(
      _name('hidden_units'),
      'a non-empty list of positive ints',
      params['hidden_units'],
      'e.g. [10, 10]; for a linear model use linear_classifier_model_fn or '
      'linear_regressor_model_fn (canned LinearClassifier/LinearRegressor)',
    )
  return hidden_units


def _validate_feature_columns(params):
  return _networks.check_feature_columns(
    _name('feature_columns'),
    _name('feature_keys'),
    params.get('feature_columns'),
    params.get('feature_keys'),
  )


def _validate_optimizer(params):
  return _optimizers.make_optimizer_fn(
    params.get('optimizer', 'Adagrad'), params.get('learning_rate'), name=_name('optimizer')
  )


def _validate_activation(params):
  if 'activation' not in params:
    return tf.nn.relu
  return _networks.check_activation(_name('activation'), params['activation'])


def _validate_dropout(params):
  return _networks.check_dropout(_name('dropout'), params.get('dropout'))


def _validate_batch_norm(params):
  return validation.check_bool(_name('batch_norm'), params.get('batch_norm', False))


def _validate_weight_column(params):
  return _heads.check_weight_column(_name('weight_column'), params.get('weight_column'))


def _validate_steps_per_run(params):
  return groups.check_params_steps_per_run(params.get('steps_per_run', 1))


def check_n_classes_and_vocabulary(params, template, default_n_classes=None):
  """``(n_classes, label_vocabulary)`` of a classifier's params, checked.

  ``n_classes`` defaults to the size of ``label_vocabulary``, else to ``default_n_classes``
  (2 for the linear and wide-and-deep templates, as canned's); required when both are None.
  """
  vocabulary = params.get('label_vocabulary')
  if vocabulary is not None:
    vocabulary = _heads.check_vocabulary(_name('label_vocabulary'), vocabulary)
  n_classes = params.get('n_classes')
  if n_classes is None:
    if vocabulary is None and default_n_classes is None:
      raise exceptions.ArgumentKeyError(
        'params must have "n_classes" for %s (the number of classes, e.g. '
        '3 for Iris), or "label_vocabulary" (the class names)' % template
      )
    n_classes = default_n_classes if vocabulary is None else len(vocabulary)
  validation.check_positive_int(_name('n_classes'), n_classes)
  if n_classes < 2:
    validation.fail(
      _name('n_classes'), 'an int >= 2', n_classes, 'a classifier needs at least two classes'
    )
  if vocabulary is not None and len(vocabulary) != n_classes:
    validation.fail(
      _name('label_vocabulary'),
      'a list of n_classes=%d names' % n_classes,
      list(vocabulary),
      'give one name per class, or drop n_classes',
    )
  return n_classes, vocabulary


def check_auc_num_thresholds(params, n_classes):
  """``params['auc_num_thresholds']`` checked: None, or a count for a binary classifier."""
  value = _heads.check_auc_num_thresholds(
    _name('auc_num_thresholds'), params.get('auc_num_thresholds')
  )
  if value is not None and n_classes != 2:
    validation.fail(
      _name('auc_num_thresholds'),
      'None with n_classes=%d' % n_classes,
      value,
      'only a binary classifier (n_classes=2) reports auc',
    )
  return value


def _validate_label_dimension(params):
  return validation.check_positive_int(_name('label_dimension'), params.get('label_dimension', 1))


def _common(params, accepted, template):
  params = check_keys(params, accepted, template)
  return dict(
    hidden_units=_validate_hidden_units(params, template),
    feature_columns=_validate_feature_columns(params),
    optimizer_fn=_validate_optimizer(params),
    activation=_validate_activation(params),
    dropout=_validate_dropout(params),
    batch_norm=_validate_batch_norm(params),
    weight_column=_validate_weight_column(params),
    steps_per_run=_validate_steps_per_run(params),
  ), params


def classifier_params(params):
  """Checks classifier_model_fn's params; returns them as a normalised :class:`DNNParams`."""
  values, params = _common(params, CLASSIFIER_KEYS, 'classifier_model_fn')
  n_classes, vocabulary = check_n_classes_and_vocabulary(params, 'classifier_model_fn')
  return DNNParams(
    n_classes=n_classes,
    label_vocabulary=vocabulary,
    label_dimension=None,
    auc_num_thresholds=check_auc_num_thresholds(params, n_classes),
    **values,
  )


def regressor_params(params):
  """Checks regressor_model_fn's params; returns them as a normalised :class:`DNNParams`."""
  values, params = _common(params, REGRESSOR_KEYS, 'regressor_model_fn')
  return DNNParams(
    n_classes=None,
    label_vocabulary=None,
    label_dimension=_validate_label_dimension(params),
    auc_num_thresholds=None,
    **values,
  )
