"""Refuses a model_dir holding a checkpoint of another model, before the session starts."""

import tensorflow as tf

from tfest_adapters import exceptions

_SHOWN_VARIABLES = 6


class CheckpointCompatibilityHook(tf.compat.v1.train.SessionRunHook):
  """Refuses, before the session, a model_dir whose checkpoint is of another model.

  In ``begin`` (the graph is built, no session yet) it compares the graph's variables with
  those of model_dir's latest checkpoint, as the Estimator's default Saver will restore
  them, and raises a :class:`~tfest_adapters.exceptions.ModelDirError` listing the variables
  the checkpoint lacks or holds with another shape or dtype. Graphs saved by a Saver of the
  model_fn's own, or with partitioned variables, are left to TF.
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, model_dir):
    self.model_dir = model_dir

  def begin(self):
    path = tf.train.latest_checkpoint(self.model_dir)
    if not path:
      return
    savers = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.SAVERS)
    if len(savers) != 1 or getattr(savers[0], '_var_list', None) is not None:
      return
    try:
      reader = tf.compat.v1.train.NewCheckpointReader(path)
      shapes = reader.get_variable_to_shape_map()
      dtypes = reader.get_variable_to_dtype_map()
    except tf.errors.OpError:
      return
    missing, different = [], []
    for variable in tf.compat.v1.global_variables():
      if getattr(variable, '_save_slice_info', None) is not None:
        return
      try:
        name = variable.op.name
        shape = variable.shape.as_list()
        dtype = variable.dtype.base_dtype
      except (AttributeError, ValueError):
        return
      if name not in shapes:
        missing.append('%s %s' % (name, shape))
      elif list(shapes[name]) != shape or dtypes[name].base_dtype != dtype:
        different.append(
          '%s: %s %s in the checkpoint, %s %s in the model'
          % (name, dtypes[name].name, list(shapes[name]), dtype.name, shape)
        )
    if not missing and not different:
      return
    parts = []
    if missing:
      parts.append('it lacks %d variable(s) of this model: %s' % (len(missing), _shown(missing)))
    if different:
      parts.append('%d differ: %s' % (len(different), _shown(different)))
    raise exceptions.ModelDirError(
      'model_dir %s holds a checkpoint of another model (%s): %s. Nothing was changed. '
      "Train this model in a new model_dir, or start it from that checkpoint's matching "
      'variables with warm_start_from=tf.estimator.WarmStartSettings(...)'
      % (self.model_dir, path, '; '.join(parts))
    )


def _shown(items):
  text = ', '.join(items[:_SHOWN_VARIABLES])
  if len(items) > _SHOWN_VARIABLES:
    text += ', ... (%d more)' % (len(items) - _SHOWN_VARIABLES)
  return text
