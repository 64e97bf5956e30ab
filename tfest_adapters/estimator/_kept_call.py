"""One ``train()`` call in a kept graph: the call's hooks, its session and its training loop.

What ``Estimator._train_with_estimator_spec`` does for a local chief, with the kept graph and
session instead of new ones; the hooks are made for each call.
"""

import tensorflow as tf
from tensorflow.python.client import session as session_lib
from tensorflow.python.profiler import trace

from tfest_adapters._core import stop_hook
from tfest_adapters.estimator import _kept_graph
from tfest_adapters.estimator import _saver


class _UnclosedSession(session_lib.SessionInterface):
  """A session that MonitoredSession's ``close()`` leaves open: the keeper closes it."""

  def __init__(self, session):
    self._session = session

  @property
  def graph(self):
    return self._session.graph

  @property
  def sess_str(self):
    return self._session.sess_str

  def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
    return self._session.run(
      fetches, feed_dict=feed_dict, options=options, run_metadata=run_metadata
    )

  def partial_run_setup(self, fetches, feeds=None):
    return self._session.partial_run_setup(fetches, feeds)

  def partial_run(self, handle, fetches, feed_dict=None):
    return self._session.partial_run(handle, fetches, feed_dict)

  def make_callable(self, fetches, feed_list=None, accept_options=False):
    return self._session.make_callable(fetches, feed_list, accept_options)

  def list_devices(self):
    return self._session.list_devices()

  def close(self):
    pass  # The end of a train() call, not of the session.


class InputHook(tf.compat.v1.train.SessionRunHook):
  """Initializes the kept graph's iterator with the serialized Dataset of this call.

  Args:
    kept: the :class:`~tfest_adapters.estimator._kept_graph.KeptGraph`.
    graph_def: the Dataset's GraphDef bytes (``_kept_graph.serialize_dataset``).
  """

  def __init__(self, kept, graph_def):
    self._kept = kept
    self._graph_def = graph_def

  def after_create_session(self, session, coord):
    del coord  # Unused.
    session.run(self._kept.initializer, {self._kept.input_graph: self._graph_def})


class SessionCreator(tf.compat.v1.train.SessionCreator):
  """The kept session first; TF's ChiefSessionCreator for a first or recovered session.

  MonitoredSession asks again after losing its session (AbortedError, UnavailableError):
  the Estimator then restores the latest checkpoint into a new session, and so does this.

  Args:
    kept: the :class:`~tfest_adapters.estimator._kept_graph.KeptGraph`; its ``session`` is
      the one created.
    config: the Estimator's RunConfig.
    model_dir: the Estimator's model_dir, restored from.
  """

  def __init__(self, kept, config, model_dir):
    self._kept = kept
    self._master = config.master
    self._session_config = config.session_config
    self._model_dir = model_dir
    self._created = False

  def create_session(self):
    kept = self._kept
    if kept.session is not None and not self._created:
      self._created = True
      kept.graph.finalize()  # As ChiefSessionCreator's Scaffold finalizes a new graph.
      return _UnclosedSession(kept.session)
    self._created = True
    if kept.session is not None:
      kept.session.close()
      kept.session = None
    kept.session = tf.compat.v1.train.ChiefSessionCreator(
      scaffold=kept.spec.scaffold,
      master=self._master,
      config=self._session_config,
      checkpoint_dir=self._model_dir,
    ).create_session()
    return _UnclosedSession(kept.session)


def _call_hooks(estimator, kept, graph_def, hooks, saving_listeners):
  """The hooks of one call, as MonitoredTrainingSession orders a chief's.

  The input hook, the caller's hooks, the Estimator's NaN and logging hooks; the saver hook
  given (fit's) or this Estimator's, with the saving listeners; the step counter and the
  summary saver, as the RunConfig asks.
  """
  config = estimator.config
  model_dir = estimator.model_dir
  spec = kept.spec
  worker_hooks = [InputHook(kept, graph_def)] + list(hooks)
  worker_hooks.append(tf.compat.v1.train.NanTensorHook(spec.loss))
  if config.log_step_count_steps is not None:
    worker_hooks.append(
      tf.compat.v1.train.LoggingTensorHook(
        {'loss': spec.loss, 'step': kept.global_step}, every_n_iter=config.log_step_count_steps
      )
    )
  saver_hooks = _saver.saver_hooks(hooks)
  all_hooks = []
  if not saver_hooks:
    saver_hooks = all_hooks = [
      _saver.SafeCheckpointSaverHook.from_config(
        model_dir, config, graph_token=estimator.graph_token
      )
    ]
  for listener in saving_listeners or ():
    if listener not in saver_hooks[0]._listeners:
      saver_hooks[0]._listeners.append(listener)
  if config.log_step_count_steps and config.log_step_count_steps > 0:
    all_hooks.append(
      tf.compat.v1.train.StepCounterHook(
        output_dir=model_dir, every_n_steps=config.log_step_count_steps
      )
    )
  if config.save_summary_steps and config.save_summary_steps > 0:
    all_hooks.append(
      tf.compat.v1.train.SummarySaverHook(
        scaffold=spec.scaffold, save_steps=config.save_summary_steps, output_dir=model_dir
      )
    )
  return all_hooks + worker_hooks


def run(estimator, kept, graph_def, hooks, saving_listeners):
  """``Estimator._train_with_estimator_spec`` for a local chief, in the kept graph.

  The graph is open while the hooks begin (the first time they see it, this project's
  hooks build their ops), then finalized until the end of the call, as MonitoredSession
  finalizes a new graph.

  Args:
    estimator: the Estimator.
    kept: the :class:`~tfest_adapters.estimator._kept_graph.KeptGraph`.
    graph_def: this call's Dataset, serialized.
    hooks, saving_listeners: as the Estimator's ``_train_model_default``.

  Returns:
    The loss of the last step.
  """
  spec = kept.spec
  if kept.graph.finalized:
    kept.graph._unsafe_unfinalize()
  with kept.graph.as_default():
    if not kept.prepared:
      with kept.graph.device(estimator._device_fn):
        _kept_graph.prepare(estimator, kept)
    stop_hook.new_session(kept.graph)
    all_hooks = _call_hooks(estimator, kept, graph_def, hooks, saving_listeners)
    creator = SessionCreator(kept, estimator.config, estimator.model_dir)
    with tf.compat.v1.train.MonitoredSession(
      session_creator=creator, hooks=all_hooks, stop_grace_period_secs=120
    ) as session:
      loss = None
      current_step = 0
      while not session.should_stop():
        current_step += 1
        with trace.Trace('train', step_num=current_step, _r=1):
          _, loss = session.run([spec.train_op, spec.loss])
    if current_step == 0:
      tf.compat.v1.logging.warn(
        'Training with estimator made no steps. Perhaps input is empty or misspecified.'
      )
  return loss
