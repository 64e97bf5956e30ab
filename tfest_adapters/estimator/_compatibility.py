"""Refuses a checkpoint of another model: the graph's variables against the checkpoint's.

TF restores a resource variable without checking its shape, so a checkpoint of another model
(other hidden units) restores silently into a model that then computes garbage. fit refuses it
before training (``training``'s hook); make_estimator's Estimator refuses it before it
evaluates, predicts or exports, with the same message (:func:`check_checkpoint`).
"""

import tensorflow as tf

from tfest_adapters import exceptions

_SHOWN_VARIABLES = 6


def _shown(items):
  text = ', '.join(items[:_SHOWN_VARIABLES])
  if len(items) > _SHOWN_VARIABLES:
    text += ', ... (%d more)' % (len(items) - _SHOWN_VARIABLES)
  return text


def _differences(path, variables):
  """(missing, different) descriptions, or None when the graph or checkpoint cannot be read."""
  try:
    reader = tf.compat.v1.train.NewCheckpointReader(path)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except tf.errors.OpError:
    return None
  missing, different = [], []
  for variable in variables:
    if getattr(variable, '_save_slice_info', None) is not None:
      return None  # Partitioned: saved under another name, left to TF.
    try:
      name = variable.op.name
      shape = variable.shape.as_list()
      dtype = variable.dtype.base_dtype
    except (AttributeError, ValueError):
      return None
    if name not in shapes:
      missing.append('%s %s' % (name, shape))
    elif list(shapes[name]) != shape or dtypes[name].base_dtype != dtype:
      different.append(
        '%s: %s %s in the checkpoint, %s %s in the model'
        % (name, dtypes[name].name, list(shapes[name]), dtype.name, shape)
      )
  return missing, different


def check_checkpoint(model_dir, checkpoint_path=None, variables=None):
  """Raises ModelDirError when a checkpoint is not of the model in the current graph.

  The graph's variables (all global variables by default, as the Estimator's default Saver
  restores them) must each be in the checkpoint, with the same shape and dtype; the
  checkpoint may hold more (optimizer slots). Partitioned variables and unreadable
  checkpoints are left to TF.

  Args:
    model_dir: the Estimator's model_dir, named in the message.
    checkpoint_path: the checkpoint to compare; None for model_dir's latest (none: no check).
    variables: the variables to compare; None for the graph's global variables.

  Raises:
    ModelDirError: naming the variables the checkpoint lacks or holds with another shape or
      dtype, and the fix.
  """
  path = checkpoint_path or tf.train.latest_checkpoint(model_dir)
  if not path:
    return
  if variables is None:
    variables = tf.compat.v1.global_variables()
  found = _differences(path, variables)
  if not found or not (found[0] or found[1]):
    return
  missing, different = found
  parts = []
  if missing:
    parts.append('it lacks %d variable(s) of this model: %s' % (len(missing), _shown(missing)))
  if different:
    parts.append('%d differ: %s' % (len(different), _shown(different)))
  raise exceptions.ModelDirError(
    'model_dir %s holds a checkpoint of another model (%s): %s. Nothing was changed. '
    "Train this model in a new model_dir, or start it from that checkpoint's matching "
    'variables with warm_start_from=tf.estimator.WarmStartSettings(...)'
    % (model_dir, path, '; '.join(parts))
  )
