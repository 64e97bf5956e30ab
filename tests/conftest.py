"""Shared fixtures: the shipped Iris data, a small seeded dataset, a boring model_fn.

The boring model_fn is written with plain TensorFlow (no project code), so that tests of the
Estimator wiring do not depend on the model templates they are not about.
"""

import os
import pathlib

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / 'data'
IRIS_FEATURES = ('SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth')
IRIS_LABEL = 'Species'


def _load_iris_csv(path):
  data = np.genfromtxt(path, delimiter=',', names=True)
  features = {k: data[k].astype(np.float32) for k in IRIS_FEATURES}
  labels = data[IRIS_LABEL].astype(np.int64)
  return features, labels


@pytest.fixture(scope='session')
def iris():
  """((train_features, train_labels), (test_features, test_labels)) as numpy, from data/."""
  return (
    _load_iris_csv(DATA_DIR / 'iris_training.csv'),
    _load_iris_csv(DATA_DIR / 'iris_test.csv'),
  )


def small_arrays():
  """64 rows, 4 float32 features (dict f0..f3), 3 linearly separable int64 classes; seed 0."""
  rng = np.random.RandomState(0)
  x = rng.normal(size=(64, 4)).astype(np.float32)
  y = np.argmax(x[:, :3], axis=1).astype(np.int64)
  return {'f%d' % i: x[:, i] for i in range(4)}, y


@pytest.fixture
def small_data():
  """:func:`small_arrays` as a fixture."""
  return small_arrays()


def boring_model_fn(features, labels, mode, params):
  """A linear softmax classifier on features['f0'..'f3'], in plain tf.compat.v1."""
  import tensorflow as tf

  x = tf.stack([tf.cast(features['f%d' % i], tf.float32) for i in range(4)], axis=1)
  logits = tf.compat.v1.layers.dense(x, params.get('n_classes', 3), name='logits')
  class_ids = tf.argmax(logits, axis=1)
  predictions = {
    'class_ids': class_ids[:, tf.newaxis],
    'probabilities': tf.nn.softmax(logits),
    'logits': logits,
  }
  # Predict.
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(
      mode,
      predictions=predictions,
      export_outputs={'serving_default': tf.estimator.export.PredictOutput(predictions)},
    )
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  # Eval.
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(
      mode,
      loss=loss,
      eval_metric_ops={'accuracy': tf.compat.v1.metrics.accuracy(labels, class_ids)},
    )
  # Train.
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(params.get('learning_rate', 0.1))
  train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


@pytest.fixture(name='boring_model_fn')
def boring_model_fn_fixture():
  return boring_model_fn


def boring_input_fn(features, labels, batch_size=16, repeat=True):
  """A plain tf.data input_fn over small in-memory arrays (constants are fine at this size)."""

  def input_fn():
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    if repeat:
      ds = ds.repeat()
    return ds.batch(batch_size)

  return input_fn


@pytest.fixture(name='boring_input_fn')
def boring_input_fn_fixture():
  return boring_input_fn
