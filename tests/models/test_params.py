"""classifier_model_fn/regressor_model_fn params: every refusal, and that it comes first."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters.models import _params
from tfest_adapters.models import classifier_model_fn

BASE = dict(feature_keys=['a', 'b'], hidden_units=[4], n_classes=3)


def _classifier(**changes):
  params = dict(BASE, **changes)
  for key in [k for k, v in changes.items() if v is _DROP]:
    del params[key]
  return _params.classifier_params(params)


_DROP = object()


def test_valid_params_are_normalised():
  p = _classifier(
    optimizer='adam',
    learning_rate=0.1,
    dropout=0.5,
    activation='tanh',
    batch_norm=True,
    weight_column='w',
  )
  assert p.hidden_units == (4,)
  assert [c.key for c in p.feature_columns] == ['a', 'b']
  assert p.optimizer_fn.description == 'tf.keras.optimizers.legacy.Adam(learning_rate=0.1)'
  assert (p.n_classes, p.dropout, p.batch_norm, p.weight_column) == (3, 0.5, True, 'w')
  assert p.activation is tf.keras.activations.tanh


def test_defaults_follow_the_canned_estimator():
  p = _classifier()
  assert p.activation is tf.nn.relu
  assert p.optimizer_fn.description == 'tf.keras.optimizers.legacy.Adagrad()'
  assert (p.dropout, p.batch_norm, p.weight_column, p.label_vocabulary) == (None, False, None, None)


def test_n_classes_comes_from_the_vocabulary():
  assert _classifier(n_classes=_DROP, label_vocabulary=['x', 'y']).n_classes == 2


def test_regressor_label_dimension_defaults_to_one():
  assert _params.regressor_params(dict(feature_keys=['a'], hidden_units=[3])).label_dimension == 1


def _regressor(**changes):
  return _params.regressor_params(dict(feature_keys=['a'], hidden_units=[2], **changes))


# (check, changes, error, message): check(**changes) refuses them; _classifier changes BASE
# (_DROP removes a key), _regressor changes a valid regressor's params. params["n_classes"]=1
# and a label_vocabulary of the wrong size are in tests/test_bad_inputs.py.
PARAMS_REFUSALS = (
  [
    # The params themselves.
    pytest.param(
      _classifier,
      dict(hiden_units=[3]),
      exceptions.ArgumentKeyError,
      r"params has an unknown key 'hiden_units' for classifier_model_fn \(did you mean "
      r"'hidden_units'\?\). Accepted keys: feature_columns",
      id='unknown_key',
    ),
    pytest.param(
      _regressor,
      dict(n_classes=3),
      exceptions.ArgumentKeyError,
      r"params has an unknown key 'n_classes' for regressor_model_fn",
      id='classifier_key_given_to_the_regressor',
    ),
    pytest.param(
      lambda: _params.classifier_params([]),
      {},
      exceptions.ArgumentTypeError,
      r'params must be a dict, given: \[\]',
      id='params_not_a_dict',
    ),
    # hidden_units.
    pytest.param(
      _classifier,
      dict(hidden_units=_DROP),
      exceptions.ArgumentKeyError,
      r'params must have "hidden_units" for classifier_model_fn, e.g. '
      r'params\["hidden_units"\]=\[10, 10\]',
      id='missing_hidden_units',
    ),
    pytest.param(
      _classifier,
      dict(hidden_units=[]),
      exceptions.ArgumentError,
      re.escape(
        'params["hidden_units"] must be a non-empty list of positive ints, given: [] (list). '
        'e.g. [10, 10]; for a linear model use linear_classifier_model_fn or '
        'linear_regressor_model_fn'
      ),
      id='empty_hidden_units',
    ),
  ]
  + [
    pytest.param(
      _classifier,
      dict(hidden_units=value),
      exceptions.ArgumentError,
      r'params\["hidden_units"\] must be a list of positive ints, given: .*e.g. \[10, 10\]',
      id='hidden_units_%r' % (value,),
    )
    for value in ([10, 0], 10, [2.5], [True], '10')
  ]
  + [
    # feature_columns and feature_keys.
    pytest.param(
      _classifier,
      dict(feature_keys=_DROP),
      exceptions.ArgumentError,
      r'params\["feature_columns"\] or params\["feature_keys"\] must be given \(exactly one '
      r'of them\), given: neither',
      id='neither_feature_columns_nor_keys',
    ),
    pytest.param(
      _classifier,
      dict(feature_columns=[tf.feature_column.numeric_column('a')]),
      exceptions.ArgumentError,
      r'\(exactly one of them\), given: both',
      id='both_feature_columns_and_keys',
    ),
  ]
  + [
    pytest.param(
      _classifier,
      dict(feature_keys=value),
      exceptions.ArgumentTypeError,
      r'params\["feature_keys"\] must be a non-empty list of feature names',
      id='feature_keys_%r' % (value,),
    )
    for value in ('ab', [], ['a', 3], [''])
  ]
  + [
    pytest.param(
      _classifier,
      dict(feature_keys=['a', 'a']),
      exceptions.ArgumentError,
      r'params\["feature_keys"\] must be a list of distinct names',
      id='duplicate_feature_keys',
    ),
    pytest.param(
      _classifier,
      dict(
        feature_keys=_DROP,
        feature_columns=[
          tf.feature_column.categorical_column_with_vocabulary_list('c', ['x', 'y'])
        ],
      ),
      exceptions.ArgumentError,
      r'params\["feature_columns"\]\[0\] must be a dense column.*'
      r'tf.feature_column.indicator_column\(column\)',
      id='categorical_column_not_wrapped',
    ),
    pytest.param(
      _classifier,
      dict(feature_keys=_DROP, feature_columns=[tf.feature_column.numeric_column('a'), 'b']),
      exceptions.ArgumentTypeError,
      r"params\[\"feature_columns\"\]\[1\] must be a tf.feature_column column, given: 'b'",
      id='non_column',
    ),
    # n_classes and label_vocabulary.
    pytest.param(
      _classifier,
      dict(n_classes=_DROP),
      exceptions.ArgumentKeyError,
      r'params must have "n_classes" for classifier_model_fn \(the number of classes, e.g. 3 '
      r'for Iris\), or "label_vocabulary"',
      id='missing_n_classes',
    ),
  ]
  + [
    pytest.param(
      _classifier,
      dict(n_classes=value),
      exceptions.ArgumentError,
      r'params\["n_classes"\] must be a positive int, given: ',
      id='n_classes_%r' % (value,),
    )
    for value in (0, 1.5, '3')
  ]
  + [
    pytest.param(
      _classifier,
      dict(label_vocabulary='abc'),
      exceptions.ArgumentTypeError,
      r'params\["label_vocabulary"\] must be a non-empty list of str',
      id='bad_vocabulary',
    ),
    # The optimizer.
    pytest.param(
      _classifier,
      dict(optimizer='adamax'),
      exceptions.ArgumentError,
      r"params\[\"optimizer\"\] must be one of 'Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD' "
      r"\(any case\).*given: 'adamax'",
      id='bad_optimizer',
    ),
    pytest.param(
      _classifier,
      dict(learning_rate=0),
      exceptions.ArgumentError,
      r'params\["learning_rate"\] must be a positive finite number, given: 0',
      id='bad_learning_rate',
    ),
  ]
  + [
    # The network.
    pytest.param(
      _classifier,
      dict(dropout=value),
      exceptions.ArgumentError,
      r'params\["dropout"\] must be None or a drop probability in \[0, 1\)',
      id='dropout_%r' % (value,),
    )
    for value in (1.0, -0.1, '0.5', True)
  ]
  + [
    pytest.param(
      _classifier,
      dict(activation='rectifier'),
      exceptions.ArgumentError,
      r'params\[\"activation\"\] must be a tf.keras.activations name, a callable or None, given: '
      r"'rectifier'. e.g. 'relu'",
      id='unknown_activation',
    ),
    pytest.param(
      _classifier,
      dict(activation=3),
      exceptions.ArgumentTypeError,
      r'params\["activation"\] must be a tf.keras.activations name, a callable or None, given: 3',
      id='non_callable_activation',
    ),
    pytest.param(
      _classifier,
      dict(batch_norm=1),
      exceptions.ArgumentTypeError,
      r'params\["batch_norm"\] must be a bool, given: 1',
      id='bad_batch_norm',
    ),
    # The head.
    pytest.param(
      _classifier,
      dict(weight_column=['w']),
      exceptions.ArgumentTypeError,
      r'params\["weight_column"\] must be None, a feature name or a '
      r'tf.feature_column.numeric_column',
      id='bad_weight_column',
    ),
    pytest.param(
      _regressor,
      dict(label_dimension=0),
      exceptions.ArgumentError,
      r'params\["label_dimension"\] must be a positive int, given: 0',
      id='bad_label_dimension',
    ),
  ]
)


@pytest.mark.parametrize('check,changes,error,message', PARAMS_REFUSALS)
def test_bad_params_are_refused(check, changes, error, message):
  with pytest.raises(error, match=message):
    check(**changes)


def test_estimator_refuses_bad_params_before_writing_anything(tmp_path):
  estimator = tf.estimator.Estimator(
    classifier_model_fn, model_dir=str(tmp_path / 'model'), params=dict(BASE, hidden_units=[4, -1])
  )

  def input_fn():
    x = np.zeros(4, np.float32)
    return tf.data.Dataset.from_tensors(({'a': x, 'b': x}, np.zeros(4, np.int64)))

  with pytest.raises(
    exceptions.ArgumentError,
    match=r'params\["hidden_units"\] must be a list of positive ints, given: '
    r'\[4, -1\]',
  ):
    estimator.train(input_fn, steps=1)
  assert not os.path.exists(tmp_path / 'model') or not os.listdir(tmp_path / 'model')
