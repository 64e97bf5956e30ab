"""Checks of the arguments that fit and train_and_evaluate share: the Estimator and hooks."""

from tfest_adapters import exceptions
from tfest_adapters._core import validation


def validate_estimator(estimator):
  """Returns ``estimator``; ArgumentTypeError unless it is a ``tf.estimator.Estimator``."""
  import tensorflow as tf

  if not isinstance(estimator, tf.estimator.Estimator):
    validation.fail(
      'estimator',
      'a tf.estimator.Estimator',
      estimator,
      'Build one with tfest_adapters.make_estimator',
      error=exceptions.ArgumentTypeError,
    )
  return estimator


def validate_hooks(hooks):
  """The list of SessionRunHooks ``hooks`` holds (None: none; one hook: a list of it).

  Raises:
    ArgumentTypeError: an item is not a ``tf.compat.v1.train.SessionRunHook``.
  """
  import tensorflow as tf

  if hooks is None:
    return []
  if isinstance(hooks, tf.compat.v1.train.SessionRunHook):
    hooks = [hooks]
  hooks = list(hooks)
  for hook in hooks:
    if not isinstance(hook, tf.compat.v1.train.SessionRunHook):
      validation.fail(
        'hooks',
        'a list of tf.compat.v1.train.SessionRunHook',
        hook,
        error=exceptions.ArgumentTypeError,
      )
  return hooks
