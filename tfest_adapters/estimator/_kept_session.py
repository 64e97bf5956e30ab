"""Keeper: one training graph and session kept across the ``train()`` calls of an Estimator.

A call uses the kept graph only when it could not tell the difference from TF's path: the
input_fn is still called and its Dataset fed to the kept graph, the variables are model_dir's
latest checkpoint, and the hooks are made for the call; any other call trains as
``tf.estimator.Estimator`` trains, logging why (:meth:`Keeper.refusal`).
"""

import atexit
import os
import threading
import weakref

import tensorflow as tf
from tensorflow_estimator.python.estimator import util as estimator_util

from tfest_adapters._core import stop_hook
from tfest_adapters.estimator import _kept_call
from tfest_adapters.estimator import _kept_graph
from tfest_adapters.estimator import _saver

# Keepers holding a session. They are closed at exit, before the interpreter shuts down: a
# session closing while tf.data's threads call back into Python during finalization can hang.
_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
  for keeper in list(_OPEN):
    keeper._close()


# TF's hooks whose begin() adds no op (read in basic_session_run_hooks.py of TF 2.15: they
# look tensors up by name and read the global step through its cached read op).
_TF_HOOKS_WITHOUT_OPS = (
  tf.compat.v1.train.StopAtStepHook,
  tf.compat.v1.train.LoggingTensorHook,
  tf.compat.v1.train.NanTensorHook,
  tf.compat.v1.train.StepCounterHook,
  tf.compat.v1.train.ProfilerHook,
  tf.compat.v1.train.GlobalStepWaiterHook,
)


def _kept_graph_safe(hook):
  """Whether a hook (or saving listener) can be given to a kept graph again and again.

  Some of TF's hooks add no op (:data:`_TF_HOOKS_WITHOUT_OPS`, exactly those classes: a
  subclass may add some); this project's hooks that add none, or add theirs once per graph,
  and a caller's that promise as much, say so with a ``kept_graph_safe = True`` class
  attribute.
  """
  return (
    type(hook) in _TF_HOOKS_WITHOUT_OPS
    or isinstance(hook, stop_hook.StepsPerRunStopHook)
    or getattr(type(hook), 'kept_graph_safe', False) is True
  )


def _checkpoint_signature(model_dir):
  """(path, size, mtime) of model_dir's latest checkpoint index, or None."""
  path = tf.train.latest_checkpoint(model_dir)
  if path is None:
    return None
  try:
    stat = os.stat(path + '.index')
  except OSError:
    return None
  return path, stat.st_size, stat.st_mtime_ns


class Keeper:
  """Trains an Estimator with one graph and session for as many calls as it can.

  Owned by one :class:`tfest_adapters.estimator.Estimator`, which hands itself to
  :meth:`train`; :meth:`refusal` says which calls train as TF's Estimator instead.

  Args:
    enabled: bool, ``make_estimator``'s ``keep_session``.
  """

  def __init__(self, enabled=True):
    self.enabled = enabled
    self._kept = None
    self._lock = threading.Lock()
    self._refused = None  # Why the model_fn's graph cannot be kept: for good.
    self._last_reason = None
    self.kept_calls = 0  # train() calls that reused the kept graph and session.

  @property
  def has_session(self):
    return self._kept is not None and self._kept.session is not None

  def close(self):
    """Closes the kept session, if any (after a train() running in another thread)."""
    with self._lock:
      self._close()

  def _close(self):
    kept, self._kept = self._kept, None
    _OPEN.discard(self)
    if kept is not None and kept.session is not None:
      kept.session.close()
      kept.session = None

  def _note(self, reason):
    if reason != self._last_reason:
      self._last_reason = reason
      if reason is not None:
        tf.compat.v1.logging.info('train(): a new graph and session for this call: %s', reason)

  def refusal(self, estimator, hooks, saving_listeners):
    """Why this call cannot use a kept graph, or None: what is known before the input_fn.

    ``keep_session=False``, a distribution strategy, a cluster task, a RunConfig saving no
    checkpoints, hooks or saving listeners that are not :func:`_kept_graph_safe`, or a
    model_fn refused before (``_kept_graph.spec_refusal``). The input_fn's result is checked
    once called (``_kept_graph.serialize_dataset``).
    """
    config = estimator.config
    if not self.enabled:
      return 'make_estimator(keep_session=False)'
    if self._refused:
      return self._refused
    if estimator._train_distribution:
      return 'a distribution strategy trains it'
    if config.cluster_spec or config.master or not config.is_chief:
      return 'it is a task of a cluster (TF_CONFIG)'
    if not (config.save_checkpoints_steps or config.save_checkpoints_secs):
      return 'the RunConfig saves no checkpoints'
    others = [type(h).__name__ for h in hooks if not _kept_graph_safe(h)]
    if others:
      return (
        'hooks that may add ops to the graph are given (%s; a hook adding none can say '
        'so with a class attribute kept_graph_safe = True)' % ', '.join(sorted(others))
      )
    if saving_listeners:
      others = [type(s).__name__ for s in saving_listeners if not _kept_graph_safe(s)]
      if others:
        return 'saving listeners are given (%s)' % ', '.join(sorted(others))
      if not _saver.saver_hooks(hooks):
        # TF's own saver hook would get them, and they may count on its save at the start.
        return 'saving listeners are given without a saver hook'
    return None

  def train(self, estimator, input_fn, hooks, saving_listeners, train_as_tf):
    """``Estimator._train_model_default``, keeping the graph and session when it can.

    Args:
      estimator: the Estimator.
      input_fn, hooks, saving_listeners: as the Estimator's ``_train_model_default``.
      train_as_tf: ``train_as_tf(input_fn, hooks, saving_listeners)``: TF's own path.

    Returns:
      The loss of the last step, as the Estimator's.
    """
    if not self._lock.acquire(blocking=False):
      self._note('another thread is training this Estimator')
      return train_as_tf(input_fn, hooks, saving_listeners)
    try:
      reason = self.refusal(estimator, hooks, saving_listeners)
      if reason is not None:
        self._note(reason)
        self._close()
        return train_as_tf(input_fn, hooks, saving_listeners)
      return self._train(estimator, input_fn, hooks, saving_listeners)
    finally:
      self._lock.release()

  def _train(self, estimator, input_fn, hooks, saving_listeners):
    # The graph the Estimator would build, up to the input_fn's result.
    with _kept_graph.training_graph(estimator) as graph:
      sizes = _kept_graph.collection_sizes(graph)
      result = estimator._call_input_fn(input_fn, tf.estimator.ModeKeys.TRAIN)
      graph_def, reason = _kept_graph.serialize_dataset(graph, result, sizes)
      if graph_def is None:
        self._note('the input cannot be fed to a kept graph: ' + reason)
        self._close()
        return _train_in_graph(estimator, graph, result, hooks, saving_listeners)
    kept = self._usable(estimator, result.element_spec)
    if kept is None:
      kept = _kept_graph.build(estimator, result.element_spec)
      refused = _kept_graph.spec_refusal(kept)
      if refused:
        self._refused = refused
        self._note(refused)
        return _train_once(estimator, kept, graph_def, hooks, saving_listeners)
      self._kept = kept
      _OPEN.add(self)
    else:
      self.kept_calls += 1
      self._note(None)
    try:
      loss = _kept_call.run(estimator, kept, graph_def, hooks, saving_listeners)
    except BaseException:
      self._close()
      raise
    # The iterator reads the new Dataset now; the previous one's graph may go.
    kept.dataset_graph = graph
    kept.checkpoint = _checkpoint_signature(estimator.model_dir)
    return loss

  def _usable(self, estimator, element_spec):
    """The kept graph when this call can use it, else None (a stale one is closed)."""
    kept = self._kept
    if kept is None:
      return None
    stale = None
    if kept.element_spec != element_spec:
      stale = "the input_fn's element_spec changed"
    elif kept.checkpoint is None or kept.checkpoint != _checkpoint_signature(estimator.model_dir):
      stale = "model_dir's latest checkpoint is not the one this Estimator saved last"
    if stale:
      self._note(stale)
      self._close()
      return None
    return kept


def _train_in_graph(estimator, graph, result, hooks, saving_listeners):
  """The Estimator's own path, in the graph it was building (the default graph)."""
  features, labels, input_hooks = estimator_util.parse_input_fn_result(result)
  spec = estimator._call_model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, estimator.config)
  return estimator._train_with_estimator_spec(
    spec, input_hooks, hooks, tf.compat.v1.train.get_global_step(graph), saving_listeners
  )


def _train_once(estimator, kept, graph_def, hooks, saving_listeners):
  """The Estimator's own path in a graph that cannot be kept, fed this call's Dataset."""
  with kept.graph.as_default(), kept.graph.device(estimator._device_fn):
    return estimator._train_with_estimator_spec(
      kept.spec, [_kept_call.InputHook(kept, graph_def)], hooks, kept.global_step, saving_listeners
    )
