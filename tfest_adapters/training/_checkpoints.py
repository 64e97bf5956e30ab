"""What a model_dir's latest checkpoint is: its global step, and a sentence naming it."""

from tfest_adapters import exceptions


def checkpoint_step(model_dir):
  """(global step, checkpoint path) of model_dir's latest checkpoint, or (0, None)."""
  import tensorflow as tf

  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    return 0, None
  reader = tf.compat.v1.train.NewCheckpointReader(path)
  return int(reader.get_tensor(tf.compat.v1.GraphKeys.GLOBAL_STEP)), path


def check_max_steps_not_reached(model_dir, max_steps):
  """ModelDirError when model_dir's checkpoint is already at ``max_steps`` (TF only logs)."""
  step, path = checkpoint_step(model_dir)
  if max_steps is not None and step >= max_steps:
    raise exceptions.ModelDirError(
      'max_steps=%d is already reached: the latest checkpoint in %s is at step %d (%s), so '
      'training would do nothing. Pass a larger max_steps, steps=N to train N more steps, '
      'or a new model_dir' % (max_steps, model_dir, step, path)
    )
  return step, path


def latest_checkpoint_text(model_dir):
  """'the latest checkpoint, <path> (step N), is intact' or 'model_dir holds no checkpoint'."""
  import tensorflow as tf

  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    return 'no checkpoint was written: model_dir %s holds none' % model_dir
  step = path.rsplit('-', 1)[-1]
  return 'the latest checkpoint, %s (step %s), is intact' % (path, step)
