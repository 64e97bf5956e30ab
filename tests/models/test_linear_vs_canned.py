"""The linear templates against tf.estimator.LinearClassifier and LinearRegressor.

Same seed, data order and steps: the checkpoints hold the same variables with bitwise the same
values, with categorical (vocabulary list), hashed, identity, bucketized and crossed columns and
the canned defaults (Ftrl at canned's rate, sparse_combiner='sum'); warm-starting works both ways.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import group_batches
from tfest_adapters import make_estimator
from tfest_adapters.models import linear_classifier_model_fn
from tfest_adapters.models import linear_regressor_model_fn
import wide_data

STEPS = 6
SEED = 1


def _config():
  return tf.estimator.RunConfig(tf_random_seed=SEED)


def _train(estimator, input_fn, steps=STEPS):
  estimator.train(input_fn, steps=steps)
  return estimator.model_dir


def _estimator(model_fn, params, model_dir, **kwargs):
  return tf.estimator.Estimator(
    model_fn, model_dir=str(model_dir), config=_config(), params=params, **kwargs
  )


CASES = {
  # name: (canned class, template, canned kwargs = template params, regression)
  'classifier_defaults': (tf.estimator.LinearClassifier, linear_classifier_model_fn, {}, False),
  'classifier_three_classes_sgd_mean': (
    tf.estimator.LinearClassifier,
    linear_classifier_model_fn,
    dict(n_classes=3, optimizer='SGD', sparse_combiner='mean'),
    False,
  ),
  'classifier_weighted': (
    tf.estimator.LinearClassifier,
    linear_classifier_model_fn,
    dict(weight_column='weight'),
    False,
  ),
  'regressor_defaults': (tf.estimator.LinearRegressor, linear_regressor_model_fn, {}, True),
  'regressor_two_targets': (
    tf.estimator.LinearRegressor,
    linear_regressor_model_fn,
    dict(label_dimension=2),
    True,
  ),
  'classifier_class_names': (
    tf.estimator.LinearClassifier,
    linear_classifier_model_fn,
    dict(label_vocabulary=['low', 'high']),
    False,
  ),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_checkpoint_is_bitwise_the_canned_one(case, tmp_path):
  canned_cls, model_fn, kwargs, regression = CASES[case]
  features, labels = wide_data.arrays()
  if kwargs.get('n_classes') == 3:
    labels = (features['workclass'] % 3).astype(np.int64)
  if regression:
    labels = features['age'] / 10.0 + (features['education'] == 'Masters')
    if kwargs.get('label_dimension') == 2:
      labels = np.stack([labels, features['hours'] / 10.0], axis=1)
  if kwargs.get('label_vocabulary'):
    labels = np.array(kwargs['label_vocabulary'])[labels]
  columns = wide_data.linear_columns() + [wide_data.columns()['workclass']]
  input_fn = wide_data.input_fn(features, labels)
  canned = canned_cls(columns, model_dir=str(tmp_path / 'canned'), config=_config(), **kwargs)
  ours = _estimator(model_fn, dict(feature_columns=columns, **kwargs), tmp_path / 'ours')
  _train(canned, input_fn)
  _train(ours, input_fn)
  values = wide_data.assert_same_checkpoints(tmp_path / 'canned', tmp_path / 'ours')
  assert values['global_step'] == STEPS
  assert 'linear/linear_model/age_bucketized_X_education/weights' in values
  assert np.any(values['linear/linear_model/education/weights'] != 0)  # It trained.


def test_optimizer_none_is_canned_capped_ftrl(tmp_path):
  features, labels = wide_data.arrays()
  columns = wide_data.linear_columns()
  input_fn = wide_data.input_fn(features, labels)
  canned = tf.estimator.LinearClassifier(
    columns, model_dir=str(tmp_path / 'canned'), config=_config(), optimizer=None
  )
  ours = _estimator(
    linear_classifier_model_fn, dict(feature_columns=columns, optimizer=None), tmp_path / 'ours'
  )
  _train(canned, input_fn)
  _train(ours, input_fn)
  values = wide_data.assert_same_checkpoints(tmp_path / 'canned', tmp_path / 'ours')
  assert values['training/Ftrl/learning_rate'] == np.float32(min(0.2, 1 / np.sqrt(4)))


def test_steps_per_run_trains_the_canned_checkpoint(tmp_path):
  features, labels = wide_data.arrays()
  columns = wide_data.linear_columns()
  input_fn = wide_data.input_fn(features, labels)
  canned = tf.estimator.LinearClassifier(
    columns, model_dir=str(tmp_path / 'canned'), config=_config()
  )
  _train(canned, input_fn)
  ours = make_estimator(
    linear_classifier_model_fn,
    params=dict(feature_columns=columns, steps_per_run=4),
    model_dir=str(tmp_path / 'ours'),
    config=_config(),
  )
  _train(ours, group_batches(input_fn))  # 6 steps: a group of 4, then one of 2.
  wide_data.assert_same_checkpoints(tmp_path / 'canned', tmp_path / 'ours')


def _sgd_nearly_still():
  """An optimizer that moves the weights by less than 1e-6: the warm-started values stay."""
  return tf.keras.optimizers.legacy.SGD(learning_rate=1e-12)


def _trainable(values):
  return {k: v for k, v in values.items() if k.startswith('linear/linear_model/')}


@pytest.mark.parametrize('direction', ['canned_to_ours', 'ours_to_canned'])
def test_warm_start_between_canned_and_template(direction, tmp_path):
  features, labels = wide_data.arrays()
  columns = wide_data.linear_columns()
  input_fn = wide_data.input_fn(features, labels)
  source_dir, target_dir = tmp_path / 'source', tmp_path / 'target'
  if direction == 'canned_to_ours':
    source = tf.estimator.LinearClassifier(columns, model_dir=str(source_dir), config=_config())
    target = _estimator(
      linear_classifier_model_fn,
      dict(feature_columns=columns, optimizer=_sgd_nearly_still),
      target_dir,
      warm_start_from=str(source_dir),
    )
  else:
    source = _estimator(linear_classifier_model_fn, dict(feature_columns=columns), source_dir)
    target = tf.estimator.LinearClassifier(
      columns,
      model_dir=str(target_dir),
      config=_config(),
      optimizer=_sgd_nearly_still,
      warm_start_from=str(source_dir),
    )
  _train(source, input_fn)
  _train(target, input_fn, steps=1)
  source_values = _trainable(wide_data.checkpoint(source_dir))
  target_values = _trainable(wide_data.checkpoint(target_dir))
  assert sorted(target_values) == sorted(source_values) and len(source_values) == 5
  for name, value in source_values.items():
    assert np.any(value != 0), name  # Trained, so warm-starting is seen.
    np.testing.assert_allclose(target_values[name], value, rtol=0, atol=1e-6, err_msg=name)
