"""Seeding a graph so that every initializer in it, Keras' included, is reproducible.

``RunConfig(tf_random_seed=...)`` sets the graph-level seed of the graph the Estimator builds,
which covers ``tf.compat.v1`` ops, but Keras initializers (``tf.keras.layers.Dense`` and friends)
draw their op seeds from Keras' own generator, which the graph seed does not reset: two runs with
the same RunConfig seed then start from different weights. :func:`seed_graph` resets both.
"""

import random

import numpy as np
import tensorflow as tf


def seed_graph(seed):
  """Seeds the current default graph and Keras' initializer seeds, nothing else.

  ``tf.keras.utils.set_random_seed`` is the public way to reset Keras' generator, but it also
  reseeds Python's ``random`` and NumPy's global generators, which belong to the user; their
  states are saved and restored around it.

  Args:
    seed: int, or None to do nothing.
  """
  if seed is None:
    return
  py_state = random.getstate()
  np_state = np.random.get_state()
  try:
    tf.keras.utils.set_random_seed(int(seed))
  finally:
    random.setstate(py_state)
    np.random.set_state(np_state)
