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
  p = _classifier(optimizer='adam', learning_rate=0.1, dropout=0.5, activation='tanh',
                  batch_norm=True, weight_column='w')
  assert p.hidden_units == (4,)
  assert [c.key for c in p.feature_columns] == ['a', 'b']
  assert p.optimizer_fn.description == 'tf.keras.optimizers.legacy.Adam(learning_rate=0.1)'
  assert (p.n_classes, p.dropout, p.batch_norm, p.weight_column) == (3, 0.5, True, 'w')
  assert p.activation is tf.keras.activations.tanh


def test_defaults_follow_the_canned_estimator():
  p = _classifier()
  assert p.activation is tf.nn.relu
  assert p.optimizer_fn.description == 'tf.keras.optimizers.legacy.Adagrad()'
  assert (p.dropout, p.batch_norm, p.weight_column, p.label_vocabulary) == (
      None, False, None, None)


def test_n_classes_comes_from_the_vocabulary():
  assert _classifier(n_classes=_DROP, label_vocabulary=['x', 'y']).n_classes == 2


def test_regressor_label_dimension_defaults_to_one():
  assert _params.regressor_params(dict(feature_keys=['a'], hidden_units=[3])).label_dimension == 1


def test_empty_hidden_units_are_refused():
  with pytest.raises(exceptions.ArgumentError, match=re.escape(
      'params["hidden_units"] must be a non-empty list of positive ints, given: [] (list). '
      'e.g. [10, 10]; for a linear model use make_model_fn with dnn_network_fn(hidden_units=[])')):
    _params.classifier_params(dict(feature_keys=['a'], hidden_units=[], n_classes=3))


def test_unknown_key_is_refused_with_a_suggestion():
  with pytest.raises(exceptions.ArgumentKeyError,
                     match=r"params has an unknown key 'hiden_units' for classifier_model_fn "
                           r"\(did you mean 'hidden_units'\?\). Accepted keys: feature_columns"):
    _classifier(hiden_units=[3])


def test_classifier_key_given_to_the_regressor_is_refused():
  with pytest.raises(exceptions.ArgumentKeyError,
                     match=r"params has an unknown key 'n_classes' for regressor_model_fn"):
    _params.regressor_params(dict(BASE))


def test_params_must_be_a_dict():
  with pytest.raises(exceptions.ArgumentTypeError, match=r'params must be a dict, given: \[\]'):
    _params.classifier_params([])


def test_missing_hidden_units_is_refused():
  with pytest.raises(exceptions.ArgumentKeyError,
                     match=r'params must have "hidden_units" for classifier_model_fn, e.g. '
                           r'params\["hidden_units"\]=\[10, 10\]'):
    _classifier(hidden_units=_DROP)


@pytest.mark.parametrize('value', [[10, 0], 10, [2.5], [True], '10'])
def test_bad_hidden_units_are_refused(value):
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["hidden_units"\] must be a list of positive ints, given: .*'
                           r'e.g. \[10, 10\]'):
    _classifier(hidden_units=value)


def test_neither_feature_columns_nor_keys_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["feature_columns"\] or params\["feature_keys"\] must be '
                           r'given \(exactly one of them\), given: neither'):
    _classifier(feature_keys=_DROP)


def test_both_feature_columns_and_keys_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'\(exactly one of them\), given: both'):
    _classifier(feature_columns=[tf.feature_column.numeric_column('a')])


@pytest.mark.parametrize('value', ['ab', [], ['a', 3], ['']])
def test_bad_feature_keys_are_refused(value):
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params\["feature_keys"\] must be a non-empty list of feature names'):
    _classifier(feature_keys=value)


def test_duplicate_feature_keys_are_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["feature_keys"\] must be a list of distinct names'):
    _classifier(feature_keys=['a', 'a'])


def test_categorical_column_must_be_wrapped():
  column = tf.feature_column.categorical_column_with_vocabulary_list('c', ['x', 'y'])
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["feature_columns"\]\[0\] must be a dense column.*'
                           r'tf.feature_column.indicator_column\(column\)'):
    _classifier(feature_keys=_DROP, feature_columns=[column])


def test_non_column_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r"params\[\"feature_columns\"\]\[1\] must be a tf.feature_column "
                           r"column, given: 'b'"):
    _classifier(feature_keys=_DROP, feature_columns=[tf.feature_column.numeric_column('a'), 'b'])


def test_missing_n_classes_is_refused():
  with pytest.raises(exceptions.ArgumentKeyError,
                     match=r'params must have "n_classes" for classifier_model_fn \(the number '
                           r'of classes, e.g. 3 for Iris\), or "label_vocabulary"'):
    _classifier(n_classes=_DROP)


@pytest.mark.parametrize('value', [0, 1.5, '3'])
def test_bad_n_classes_is_refused(value):
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["n_classes"\] must be a positive int, given: '):
    _classifier(n_classes=value)


def test_one_class_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["n_classes"\] must be an int >= 2, given: 1. a classifier '
                           r'needs at least two classes'):
    _classifier(n_classes=1)


def test_vocabulary_size_must_match_n_classes():
  with pytest.raises(exceptions.ArgumentError,
                     match=r"params\[\"label_vocabulary\"\] must be a list of n_classes=3 names, "
                           r"given: \['x', 'y'\]"):
    _classifier(label_vocabulary=['x', 'y'])


def test_bad_vocabulary_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params\["label_vocabulary"\] must be a non-empty list of str'):
    _classifier(label_vocabulary='abc')


def test_bad_optimizer_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r"params\[\"optimizer\"\] must be one of 'Adagrad', 'Adam', 'Ftrl', "
                           r"'RMSProp', 'SGD' \(any case\).*given: 'adamax'"):
    _classifier(optimizer='adamax')


def test_bad_learning_rate_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["learning_rate"\] must be a positive finite number, '
                           r'given: 0'):
    _classifier(learning_rate=0)


@pytest.mark.parametrize('value', [1.0, -0.1, '0.5', True])
def test_bad_dropout_is_refused(value):
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["dropout"\] must be None or a drop probability in \[0, 1\)'):
    _classifier(dropout=value)


def test_unknown_activation_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r"params\[\"activation\"\] must be a tf.keras.activations name or a "
                           r"callable, given: 'rectifier'. e.g. 'relu'"):
    _classifier(activation='rectifier')


def test_non_callable_activation_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params\["activation"\] must be a tf.keras.activations name or a '
                           r'callable, given: 3'):
    _classifier(activation=3)


def test_bad_batch_norm_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params\["batch_norm"\] must be a bool, given: 1'):
    _classifier(batch_norm=1)


def test_bad_weight_column_is_refused():
  with pytest.raises(exceptions.ArgumentTypeError,
                     match=r'params\["weight_column"\] must be None, a feature name or a '
                           r'tf.feature_column.numeric_column'):
    _classifier(weight_column=['w'])


def test_bad_label_dimension_is_refused():
  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["label_dimension"\] must be a positive int, given: 0'):
    _params.regressor_params(dict(feature_keys=['a'], hidden_units=[2], label_dimension=0))


def test_estimator_refuses_bad_params_before_writing_anything(tmp_path):
  estimator = tf.estimator.Estimator(
      classifier_model_fn, model_dir=str(tmp_path / 'model'),
      params=dict(BASE, hidden_units=[4, -1]))

  def input_fn():
    x = np.zeros(4, np.float32)
    return tf.data.Dataset.from_tensors(({'a': x, 'b': x}, np.zeros(4, np.int64)))

  with pytest.raises(exceptions.ArgumentError,
                     match=r'params\["hidden_units"\] must be a list of positive ints, given: '
                           r'\[4, -1\]'):
    estimator.train(input_fn, steps=1)
  assert not os.path.exists(tmp_path / 'model') or not os.listdir(tmp_path / 'model')
