"""seed_graph makes Keras initializers reproducible and leaves the user's RNGs alone."""

import random

import numpy as np
import tensorflow as tf

from tfest_adapters._core.seeding import seed_graph


def _keras_and_v1_kernels(seed):
  with tf.Graph().as_default():
    seed_graph(seed)
    keras_layer = tf.keras.layers.Dense(3)
    keras_layer(tf.ones([1, 2]))
    v1_layer = tf.compat.v1.layers.Dense(3)
    v1_layer(tf.ones([1, 2]))
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return session.run([keras_layer.kernel, v1_layer.kernel])


def test_same_seed_gives_identical_weights():
  first, second = _keras_and_v1_kernels(7), _keras_and_v1_kernels(7)
  np.testing.assert_array_equal(first[0], second[0])
  np.testing.assert_array_equal(first[1], second[1])


def test_different_seeds_give_different_weights():
  assert not np.array_equal(_keras_and_v1_kernels(7)[0], _keras_and_v1_kernels(8)[0])


def test_user_random_state_is_untouched():
  random.seed(123)
  np.random.seed(123)
  expected = (random.random(), np.random.rand())
  random.seed(123)
  np.random.seed(123)
  _keras_and_v1_kernels(7)
  assert (random.random(), np.random.rand()) == expected


def test_none_seed_does_nothing():
  with tf.Graph().as_default() as graph:
    seed_graph(None)
    assert graph.seed is None
