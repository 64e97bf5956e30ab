"""classifier_model_fn against tf.estimator.DNNClassifier: same accuracy, within 2 points.

Both are trained here with the same hidden units, optimizer, steps, seed and data order, on
Iris and on a synthetic 10-class problem, and evaluated on held-out rows.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfest_adapters.keys import MetricKeys
from tfest_adapters.models import classifier_model_fn

HIDDEN_UNITS = [16, 16]
LEARNING_RATE = 0.1
STEPS = 200
SEED = 0


def _input_fn(features, labels, train):
  def input_fn():
    ds = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    if train:
      ds = ds.shuffle(len(labels), seed=SEED).repeat()
    return ds.batch(32)

  return input_fn


def _synthetic_10_classes():
  """10 Gaussian blobs in 8 dimensions: 600 training rows, 300 test rows."""
  rng = np.random.RandomState(0)
  centers = rng.normal(scale=2.0, size=(10, 8))
  labels = rng.randint(0, 10, size=900)
  x = (centers[labels] + rng.normal(size=(900, 8))).astype(np.float32)
  features = {'x%d' % i: x[:, i] for i in range(8)}
  split = lambda a, s: {k: v[s] for k, v in a.items()}  # noqa: E731
  return (
    (split(features, slice(0, 600)), labels[:600].astype(np.int64)),
    (split(features, slice(600, None)), labels[600:].astype(np.int64)),
  )


def _accuracies(train, test, n_classes, model_dir):
  (train_x, train_y), (test_x, test_y) = train, test
  keys = sorted(train_x)
  config = tf.estimator.RunConfig(tf_random_seed=SEED)
  canned = tf.estimator.DNNClassifier(
    hidden_units=HIDDEN_UNITS,
    feature_columns=[tf.feature_column.numeric_column(k) for k in keys],
    n_classes=n_classes,
    model_dir=str(model_dir / 'canned'),
    config=config,
    optimizer=lambda: tf.keras.optimizers.legacy.Adagrad(learning_rate=LEARNING_RATE),
  )
  ours = tf.estimator.Estimator(
    classifier_model_fn,
    model_dir=str(model_dir / 'ours'),
    config=config,
    params=dict(
      feature_keys=keys,
      hidden_units=HIDDEN_UNITS,
      n_classes=n_classes,
      optimizer='Adagrad',
      learning_rate=LEARNING_RATE,
    ),
  )
  accuracies = []
  for estimator in (canned, ours):
    estimator.train(_input_fn(train_x, train_y, train=True), steps=STEPS)
    accuracies.append(
      estimator.evaluate(_input_fn(test_x, test_y, train=False))[MetricKeys.ACCURACY]
    )
  return accuracies


@pytest.mark.parametrize('dataset', ['iris', 'synthetic_10_classes'])
def test_classifier_model_fn_matches_dnn_classifier_accuracy(dataset, iris, tmp_path):
  if dataset == 'iris':
    train, test = iris
    n_classes, floor = 3, 0.9
  else:
    train, test = _synthetic_10_classes()
    n_classes, floor = 10, 0.8
  canned, ours = _accuracies(train, test, n_classes, tmp_path)
  assert canned >= floor  # The comparison is between models that learned something.
  assert abs(ours - canned) <= 0.02, (ours, canned)


def test_default_optimizer_is_dnn_classifiers_adagrad_at_0_001(iris, tmp_path):
  """Without optimizer and learning_rate, the template trains as tf.estimator.DNNClassifier."""
  from tensorflow_estimator.python.estimator.canned import optimizers

  adagrad = optimizers.get_optimizer_instance_v2('Adagrad')  # What DNNClassifier makes.
  assert float(adagrad.learning_rate) == pytest.approx(0.001)
  (train_x, train_y), _ = iris
  keys = sorted(train_x)
  config = tf.estimator.RunConfig(tf_random_seed=SEED)
  canned = tf.estimator.DNNClassifier(
    hidden_units=HIDDEN_UNITS,
    feature_columns=[tf.feature_column.numeric_column(k) for k in keys],
    n_classes=3,
    model_dir=str(tmp_path / 'canned'),
    config=config,
  )
  ours = tf.estimator.Estimator(
    classifier_model_fn,
    model_dir=str(tmp_path / 'ours'),
    config=config,
    params=dict(feature_keys=keys, hidden_units=HIDDEN_UNITS, n_classes=3),
  )
  for estimator in (canned, ours):
    estimator.train(_input_fn(train_x, train_y, train=True), steps=20)
  names = [n for n in canned.get_variable_names() if n.startswith('dnn/')]
  assert names and names == [n for n in ours.get_variable_names() if n.startswith('dnn/')]
  for name in names:  # Weights and Adagrad accumulators, bitwise.
    np.testing.assert_array_equal(ours.get_variable_value(name), canned.get_variable_value(name))
