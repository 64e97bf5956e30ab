"""The wide-and-deep templates against tf.estimator.DNNLinearCombinedClassifier and Regressor.

Same seed, data order and steps: the checkpoints hold the same variables (both optimizers'
slots, the linear optimizer's own step count) with bitwise the same values, with categorical
(vocabulary list), hashed, bucketized and crossed columns in the wide part, embedding and
indicator columns in the deep part, and the canned defaults (Ftrl + Adagrad at canned's
rates); warm-starting works both ways.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters import group_batches
from tfest_adapters import make_estimator
from tfest_adapters.models import wide_deep_classifier_model_fn
from tfest_adapters.models import wide_deep_regressor_model_fn
import wide_data

STEPS = 6
SEED = 1
HIDDEN_UNITS = [4, 3]


def _config():
  return tf.estimator.RunConfig(tf_random_seed=SEED)


def _columns(parts):
  return dict(
    linear_feature_columns=wide_data.linear_columns() if 'linear' in parts else None,
    dnn_feature_columns=wide_data.dnn_columns() if 'dnn' in parts else None,
    dnn_hidden_units=HIDDEN_UNITS if 'dnn' in parts else None,
  )


CASES = {
  # name: (canned class, template, parts, extra args, regression)
  'classifier_defaults': (
    tf.estimator.DNNLinearCombinedClassifier,
    wide_deep_classifier_model_fn,
    ('linear', 'dnn'),
    {},
    False,
  ),
  'classifier_optimizers_by_name_dropout_batch_norm': (
    tf.estimator.DNNLinearCombinedClassifier,
    wide_deep_classifier_model_fn,
    ('linear', 'dnn'),
    dict(linear_optimizer='SGD', dnn_optimizer='Adam', dnn_dropout=0.3, batch_norm=True),
    False,
  ),
  'classifier_linear_only': (
    tf.estimator.DNNLinearCombinedClassifier,
    wide_deep_classifier_model_fn,
    ('linear',),
    {},
    False,
  ),
  'classifier_dnn_only_three_classes': (
    tf.estimator.DNNLinearCombinedClassifier,
    wide_deep_classifier_model_fn,
    ('dnn',),
    dict(n_classes=3),
    False,
  ),
  'regressor_dnn_activation_none_is_no_activation': (
    tf.estimator.DNNLinearCombinedRegressor,
    wide_deep_regressor_model_fn,
    ('linear', 'dnn'),
    dict(dnn_activation_fn=None),
    True,
  ),
  'regressor_defaults': (
    tf.estimator.DNNLinearCombinedRegressor,
    wide_deep_regressor_model_fn,
    ('linear', 'dnn'),
    {},
    True,
  ),
}


def _labels(features, labels, extra, regression):
  if regression:
    return features['age'] / 10.0 + (features['education'] == 'Masters')
  if extra.get('n_classes') == 3:
    return (features['workclass'] % 3).astype(np.int64)
  return labels


@pytest.fixture(scope='module')
def trained_case(tmp_path_factory):
  """case -> (canned model_dir, template model_dir), each trained STEPS steps, once per module.

  The tests below only read them: classifier_defaults is also the canned checkpoint that
  steps_per_run must reproduce and the source each way of warm-starting.
  """
  trained = {}

  def train(case):
    if case not in trained:
      canned_cls, model_fn, parts, extra, regression = CASES[case]
      features, labels = wide_data.arrays()
      input_fn = wide_data.input_fn(features, _labels(features, labels, extra, regression))
      args = dict(_columns(parts), **extra)
      root = tmp_path_factory.mktemp(case)
      canned = canned_cls(model_dir=str(root / 'canned'), config=_config(), **args)
      ours = tf.estimator.Estimator(
        model_fn, model_dir=str(root / 'ours'), config=_config(), params=args
      )
      for estimator in (canned, ours):
        estimator.train(input_fn, steps=STEPS)
      trained[case] = root / 'canned', root / 'ours'
    return trained[case]

  return train


@pytest.mark.parametrize('case', sorted(CASES))
def test_checkpoint_is_bitwise_the_canned_one(case, trained_case):
  parts, extra = CASES[case][2:4]
  values = wide_data.assert_same_checkpoints(*trained_case(case))
  assert values['global_step'] == STEPS
  if parts == ('linear', 'dnn'):
    # Two optimizers: the linear one counts its own steps, the DNN one steps the global step.
    own = 'training/%s/iter' % extra.get('linear_optimizer', 'Ftrl')
    assert values[own] == STEPS
  if 'dnn' in parts:
    assert np.any(values['dnn/logits/kernel'] != 0)


def test_steps_per_run_trains_the_canned_checkpoint(trained_case, tmp_path):
  canned_dir, _ = trained_case('classifier_defaults')
  features, labels = wide_data.arrays()
  input_fn = wide_data.input_fn(features, labels)
  ours = make_estimator(
    wide_deep_classifier_model_fn,
    params=dict(_columns(('linear', 'dnn')), steps_per_run=4),
    model_dir=str(tmp_path / 'ours'),
    config=_config(),
  )
  ours.train(group_batches(input_fn), steps=STEPS)  # A group of 4, then one of 2.
  wide_data.assert_same_checkpoints(canned_dir, tmp_path / 'ours')


def _sgd_nearly_still():
  """An optimizer that moves the weights by less than 1e-6: the warm-started values stay."""
  return tf.keras.optimizers.legacy.SGD(learning_rate=1e-12)


def _trainable(values):
  return {k: v for k, v in values.items() if k.startswith(('dnn/', 'linear/'))}


@pytest.mark.parametrize('direction', ['canned_to_ours', 'ours_to_canned'])
def test_warm_start_between_canned_and_template(direction, trained_case, tmp_path):
  canned_dir, ours_dir = trained_case('classifier_defaults')  # Both parts, trained STEPS steps.
  features, labels = wide_data.arrays()
  input_fn = wide_data.input_fn(features, labels)
  args = _columns(('linear', 'dnn'))
  still = dict(args, linear_optimizer=_sgd_nearly_still, dnn_optimizer=_sgd_nearly_still)
  target_dir = str(tmp_path / 'target')
  canned_cls = tf.estimator.DNNLinearCombinedClassifier
  if direction == 'canned_to_ours':
    source_dir = str(canned_dir)
    target = tf.estimator.Estimator(
      wide_deep_classifier_model_fn,
      model_dir=target_dir,
      config=tf.estimator.RunConfig(tf_random_seed=SEED + 1),
      params=still,
      warm_start_from=source_dir,
    )
  else:
    source_dir = str(ours_dir)
    target = canned_cls(
      model_dir=target_dir,
      config=tf.estimator.RunConfig(tf_random_seed=SEED + 1),
      warm_start_from=source_dir,
      **still,
    )
  target.train(input_fn, steps=1)
  source_values = _trainable(wide_data.checkpoint(source_dir))
  target_values = _trainable(wide_data.checkpoint(target_dir))
  assert sorted(target_values) == sorted(source_values) and len(source_values) == 12
  for name, value in source_values.items():
    np.testing.assert_allclose(target_values[name], value, rtol=0, atol=1e-6, err_msg=name)
