"""Refuses a model_dir holding a checkpoint of another model, before the session starts."""

import tensorflow as tf

from tfest_adapters import estimator


class CheckpointCompatibilityHook(tf.compat.v1.train.SessionRunHook):
  """Refuses, before the session, a model_dir whose checkpoint is of another model.

  In ``begin`` (the graph is built, no session yet) it compares the graph's variables with
  those of model_dir's latest checkpoint, as the Estimator's default Saver will restore
  them (:func:`tfest_adapters.estimator.check_checkpoint`), and raises a
  :class:`~tfest_adapters.exceptions.ModelDirError` listing the variables the checkpoint lacks
  or holds with another shape or dtype. Graphs saved by a Saver of the model_fn's own, or
  with partitioned variables, are left to TF.
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, model_dir):
    self.model_dir = model_dir

  def begin(self):
    savers = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.SAVERS)
    if len(savers) != 1 or getattr(savers[0], '_var_list', None) is not None:
      return
    estimator.check_checkpoint(self.model_dir)
