"""Prediction and metric keys equal TensorFlow's canned ones."""

import pytest
from tensorflow_estimator.python.estimator.canned import metric_keys as tf_metric_keys
from tensorflow_estimator.python.estimator.canned import prediction_keys as tf_prediction_keys

from tfest_adapters import keys


def _constants(cls):
  return {k: v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


@pytest.mark.parametrize('name,value', sorted(_constants(keys.PredictionKeys).items()))
def test_prediction_keys_match_tensorflow(name, value):
  assert getattr(tf_prediction_keys.PredictionKeys, name) == value


@pytest.mark.parametrize('name,value', sorted(_constants(keys.MetricKeys).items()))
def test_metric_keys_match_tensorflow(name, value):
  if name == 'GLOBAL_STEP':
    import tensorflow as tf

    assert tf.compat.v1.GraphKeys.GLOBAL_STEP == value
  else:
    assert getattr(tf_metric_keys.MetricKeys, name) == value


def test_signature_keys_match_tensorflow():
  import tensorflow as tf

  assert keys.SignatureKeys.SERVING_DEFAULT == (tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)
  assert keys.SignatureKeys.PREDICT == tf.saved_model.PREDICT_METHOD_NAME.split('/')[-1]


def test_head_names_are_distinct():
  assert len(set(keys.HeadNames.ALL)) == 4


def test_group_keys_are_distinct_and_reserved():
  values = list(_constants(keys.GroupKeys).values())
  assert len(set(values)) == 3
  assert all(v.startswith('__tfest_group_') for v in values)
