"""One training graph and session kept across the ``train()`` calls of make_estimator's Estimator.

``tf.estimator.Estimator.train`` builds everything anew at every call: a graph (the input_fn,
the model_fn, the optimizer and its slots, the Saver), a session, the restore of the latest
checkpoint, the first run's graph optimisations; then it trains, saves and closes. With the
templates that is ~0.9 s per call on 2 cores (profiled: the model_fn's graph 0.38 s, the
session 0.25 s, the first run 0.12 s), paid again by every call of a loop of short
``train()`` calls, and by every chunk of ``fit``.

make_estimator's Estimator keeps the graph and the session of a ``train()`` call for the next
one, when the next call could not tell the difference:

* **The input_fn is still called at every call**, as the Estimator calls it: in a new graph
  seeded with the RunConfig's ``tf_random_seed``, holding the global step, under ``/cpu:0``.
  Its Dataset is thus the one the Estimator would build (the same op seeds for its
  shuffles, the next ``(seed, k)`` of our builders). That Dataset is serialized
  (``DatasetToGraphV2``) and fed to the kept graph, whose input is ``DatasetFromGraph`` of the
  fed GraphDef; each call initializes that iterator, as the Estimator initializes a new one.
  The graph the input_fn built is kept alive until the next call, for the Python functions
  its Dataset calls (``tf.numpy_function``).
* **The variables are the latest checkpoint's.** The kept session is used only while
  model_dir's latest checkpoint is the one its last call saved (same path, same index file
  size and modification time). Another checkpoint there (another Estimator or process, a
  deleted or replaced model_dir) and the graph is built anew, restoring it, as the Estimator
  does. Each call ends with a checkpoint of its last step, as every ``train()`` does.
* **The hooks of a call are made for the call**: the stop hook of ``steps``/``max_steps``,
  the Estimator's NaN, logging, step-counter and summary hooks, the checkpoint saver
  (:class:`~tfest_adapters.estimator._saver.SafeCheckpointSaverHook`, or the one given, as ``fit``
  gives its own), the input's initializer. The graph is open while they ``begin`` (a hook
  building ops once per graph builds them the first time), then finalized for the call.
* **The model_fn is not called again**: the kept graph is the one it built for this
  Estimator's ``params`` and ``config``, which cannot change. A model_fn whose graph depends
  on anything else (a global flag, a file read at graph-building time) must be used with
  ``make_estimator(..., keep_session=False)``.

The kept graph holds a few input ops where TF's holds the Dataset's; the model_fn's random
ops still get the op seeds they get in TF's graph, because make_estimator's model_fn wrapper
reseeds the graph (and Keras) from ``tf_random_seed`` just before calling the model_fn.

Anything outside those bounds trains exactly as ``tf.estimator.Estimator`` trains (and drops
a kept session), logging why once:

* ``keep_session=False``; a distribution strategy; a cluster (``TF_CONFIG``); a RunConfig
  that saves no checkpoints (the memory would then run ahead of model_dir);
* hooks other than TF's that add no op (``StopAtStepHook``, ``LoggingTensorHook``,
  ``NanTensorHook``, ``StepCounterHook``, ``ProfilerHook``, ``GlobalStepWaiterHook``), our
  ``StepsPerRunStopHook``, and hooks that say ``kept_graph_safe = True`` (``fit``'s guards,
  recorder and saver): another hook may add ops to the graph in every ``begin``, piling up
  in a kept graph; saving listeners, unless ``kept_graph_safe`` and given with their saver
  hook (``fit``'s);
* an input_fn that returns tensors rather than a ``tf.data.Dataset``, a Dataset whose graph
  holds variables, tables or queue runners (they would be initialized by the training
  graph's Scaffold), or one ``DatasetToGraphV2`` cannot serialize;
* a model_fn whose spec has training hooks, chief hooks or a Saver of its own, or a graph
  with queue runners (from then on, this Estimator trains as TF's).

Another thread training the same Estimator at the same time trains as TF's too. The session
is released by ``Estimator.close()``, when the Estimator is garbage-collected, and at exit
(before the interpreter shuts down: a session closing while tf.data's threads call back into
Python during finalization can hang).
"""

import atexit
import contextlib
import os
import threading
import weakref

import tensorflow as tf
# pylint: disable=g-direct-tensorflow-import
from tensorflow.python.client import session as session_lib
from tensorflow.python.data.ops import dataset_ops
from tensorflow.python.data.ops import options as options_lib
from tensorflow.python.ops import gen_experimental_dataset_ops
from tensorflow.python.profiler import trace
from tensorflow.python.training import training_util
from tensorflow_estimator.python.estimator import util as estimator_util
# pylint: enable=g-direct-tensorflow-import

from tfest_adapters._core import stop_hook
from tfest_adapters.estimator import _saver

_ModeKeys = tf.estimator.ModeKeys
_GraphKeys = tf.compat.v1.GraphKeys

# Collections an input_fn's graph may not add to: what they hold would be initialized,
# started or saved by the training graph, not by the Dataset.
_STATEFUL_COLLECTIONS = (
    _GraphKeys.GLOBAL_VARIABLES, _GraphKeys.LOCAL_VARIABLES, _GraphKeys.TABLE_INITIALIZERS,
    _GraphKeys.QUEUE_RUNNERS, _GraphKeys.SAVEABLE_OBJECTS, _GraphKeys.RESOURCES,
    _GraphKeys.LOCAL_RESOURCES, _GraphKeys.INIT_OP, _GraphKeys.LOCAL_INIT_OP, _GraphKeys.SAVERS)

# Keepers holding a session, closed at exit.
_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
  for keeper in list(_OPEN):
    keeper._close()  # pylint: disable=protected-access


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
    return self._session.run(fetches, feed_dict=feed_dict, options=options,
                             run_metadata=run_metadata)

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


class _InputHook(tf.compat.v1.train.SessionRunHook):
  """Initializes the kept graph's iterator with the serialized Dataset of this call."""

  def __init__(self, kept, graph_def):
    self._kept = kept
    self._graph_def = graph_def

  def after_create_session(self, session, coord):
    del coord  # Unused.
    session.run(self._kept.initializer, {self._kept.input_graph: self._graph_def})


class _Kept:
  """A training graph, its spec and session, and what it was built from."""

  def __init__(self, graph, element_spec, input_graph, initializer, spec, global_step):
    self.graph = graph
    self.element_spec = element_spec
    self.input_graph = input_graph  # The string placeholder fed with a Dataset's GraphDef.
    self.initializer = initializer
    self.spec = spec
    self.global_step = global_step
    self.session = None
    self.checkpoint = None  # _checkpoint_signature of model_dir after the last call.
    self.prepared = False  # What Estimator._train_with_estimator_spec adds: added.
    self.dataset_graph = None  # The graph of the Dataset the iterator reads (see module doc).


class _SessionCreator(tf.compat.v1.train.SessionCreator):
  """The kept session first; TF's ChiefSessionCreator for a first or recovered session.

  MonitoredSession asks again after losing its session (AbortedError, UnavailableError):
  the Estimator then restores the latest checkpoint into a new session, and so does this.
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
        scaffold=kept.spec.scaffold, master=self._master, config=self._session_config,
        checkpoint_dir=self._model_dir).create_session()
    return _UnclosedSession(kept.session)


# TF's hooks whose begin() adds no op (read in basic_session_run_hooks.py of TF 2.15: they
# look tensors up by name and read the global step through its cached read op).
_TF_HOOKS_WITHOUT_OPS = (
    tf.compat.v1.train.StopAtStepHook, tf.compat.v1.train.LoggingTensorHook,
    tf.compat.v1.train.NanTensorHook, tf.compat.v1.train.StepCounterHook,
    tf.compat.v1.train.ProfilerHook, tf.compat.v1.train.GlobalStepWaiterHook)


@contextlib.contextmanager
def _training_graph(estimator):
  """A new graph begun as ``Estimator._train_model_default`` begins it, as the default.

  Seeded with the RunConfig's ``tf_random_seed``, under the Estimator's device function,
  holding the global step and its read op.
  """
  # pylint: disable=protected-access
  graph = tf.Graph()
  with graph.as_default(), graph.device(estimator._device_fn):
    tf.compat.v1.random.set_random_seed(estimator.config.tf_random_seed)
    if estimator._create_and_assert_global_step(graph) is not None:
      training_util._get_or_create_global_step_read(graph)
    yield graph


def _kept_graph_safe(hook):
  """Whether a hook (or saving listener) can be given to a kept graph again and again.

  Some of TF's hooks add no op (:data:`_TF_HOOKS_WITHOUT_OPS`, exactly those classes: a
  subclass may add some); this project's hooks that add none, or add theirs once per graph,
  and a caller's that promise as much, say so with a ``kept_graph_safe = True`` class
  attribute.
  """
  return (type(hook) in _TF_HOOKS_WITHOUT_OPS or
          isinstance(hook, stop_hook.StepsPerRunStopHook) or
          getattr(type(hook), 'kept_graph_safe', False) is True)


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


def _collection_sizes(graph):
  return [len(graph.get_collection(key)) for key in _STATEFUL_COLLECTIONS]


def _serialize(graph, result, sizes_before):
  """(GraphDef bytes, None) of an input_fn's Dataset, or (None, why it cannot be fed)."""
  if not isinstance(result, tf.data.Dataset):
    return None, 'the input_fn returns %s, not a tf.data.Dataset' % type(result).__name__
  if _collection_sizes(graph) != sizes_before:
    return None, ('the input_fn adds variables, tables or queue runners to the graph, which '
                  'the training graph initializes')
  # Ignoring "external state" (stateful ops, Python functions) is right here: the GraphDef
  # is read back in this process, while the graph that registered those functions lives.
  serialized = result._as_serialized_graph(  # pylint: disable=protected-access
      external_state_policy=options_lib.ExternalStatePolicy.IGNORE)
  try:
    with tf.compat.v1.Session(graph=graph) as session:
      return session.run(serialized), None
  except tf.errors.OpError as error:
    return None, 'its Dataset cannot be serialized (%s)' % error.message.split('\n')[0]


class Keeper:
  """Trains an Estimator with one graph and session for as many calls as it can.

  Owned by one :class:`tfest_adapters.estimator._estimator.Estimator`, which hands itself to
  :meth:`train`; see the module doc for what is kept and when.

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
        tf.compat.v1.logging.info('train(): a new graph and session for this call: %s',
                                  reason)

  def refusal(self, estimator, hooks, saving_listeners):
    """Why this call cannot use a kept graph, or None: what is known before the input_fn."""
    config = estimator.config
    if not self.enabled:
      return 'make_estimator(keep_session=False)'
    if self._refused:
      return self._refused
    if estimator._train_distribution:  # pylint: disable=protected-access
      return 'a distribution strategy trains it'
    if config.cluster_spec or config.master or not config.is_chief:
      return 'it is a task of a cluster (TF_CONFIG)'
    if not (config.save_checkpoints_steps or config.save_checkpoints_secs):
      return 'the RunConfig saves no checkpoints'
    others = [type(h).__name__ for h in hooks if not _kept_graph_safe(h)]
    if others:
      return ('hooks that may add ops to the graph are given (%s; a hook adding none can say '
              'so with a class attribute kept_graph_safe = True)' % ', '.join(sorted(others)))
    if saving_listeners:
      others = [type(l).__name__ for l in saving_listeners if not _kept_graph_safe(l)]
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
    if not self._lock.acquire(blocking=False):  # pylint: disable=consider-using-with
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
    # pylint: disable=protected-access
    # The graph the Estimator would build, up to the input_fn's result.
    with _training_graph(estimator) as graph:
      sizes = _collection_sizes(graph)
      result = estimator._call_input_fn(input_fn, _ModeKeys.TRAIN)
      graph_def, reason = _serialize(graph, result, sizes)
      if graph_def is None:
        # The Estimator's own path, in the graph it was building.
        self._note('the input cannot be fed to a kept graph: ' + reason)
        self._close()
        features, labels, input_hooks = estimator_util.parse_input_fn_result(result)
        spec = estimator._call_model_fn(features, labels, _ModeKeys.TRAIN, estimator.config)
        return estimator._train_with_estimator_spec(
            spec, input_hooks, hooks, tf.compat.v1.train.get_global_step(graph),
            saving_listeners)
    element_spec = result.element_spec
    kept = self._kept
    if kept is not None:
      stale = None
      if kept.element_spec != element_spec:
        stale = 'the input_fn\'s element_spec changed'
      elif (kept.checkpoint is None or
            kept.checkpoint != _checkpoint_signature(estimator.model_dir)):
        stale = 'model_dir\'s latest checkpoint is not the one this Estimator saved last'
      if stale:
        self._note(stale)
        self._close()
        kept = None
    if kept is None:
      kept = self._build(estimator, element_spec)
      refused = self._spec_refusal(kept)
      if refused:
        self._refused = refused
        self._note(refused)
        with kept.graph.as_default(), kept.graph.device(estimator._device_fn):
          return estimator._train_with_estimator_spec(
              kept.spec, [_InputHook(kept, graph_def)], hooks, kept.global_step,
              saving_listeners)
      self._kept = kept
      _OPEN.add(self)
    else:
      self.kept_calls += 1
      self._note(None)
    try:
      loss = self._run(estimator, kept, graph_def, hooks, saving_listeners)
    except BaseException:
      self._close()
      raise
    # The iterator reads the new Dataset now; the previous one's graph may go.
    kept.dataset_graph = graph
    kept.checkpoint = _checkpoint_signature(estimator.model_dir)
    return loss

  def _build(self, estimator, element_spec):
    """The training graph, as ``Estimator._train_model_default`` builds it, fed a Dataset."""
    # pylint: disable=protected-access
    config = estimator.config
    with _training_graph(estimator) as graph:
      with tf.compat.v1.device('/cpu:0'):  # Where the Estimator calls the input_fn.
        input_graph = tf.compat.v1.placeholder(tf.string, [], name='input_dataset_graph')
        dataset = dataset_ops._VariantDataset(
            gen_experimental_dataset_ops.dataset_from_graph(input_graph), element_spec)
      iterator = tf.compat.v1.data.make_initializable_iterator(dataset)
      features, labels = estimator_util.parse_iterator_result(iterator.get_next())
      spec = estimator._call_model_fn(features, labels, _ModeKeys.TRAIN, config)
      global_step = tf.compat.v1.train.get_global_step(graph)
    return _Kept(graph, element_spec, input_graph, iterator.initializer, spec, global_step)

  @staticmethod
  def _spec_refusal(kept):
    spec = kept.spec
    if spec.training_hooks or spec.training_chief_hooks:
      return 'the model_fn returns training hooks, which may add ops in their begin()'
    if spec.scaffold.saver is not None:
      return 'the model_fn\'s Scaffold has a Saver of its own'
    if kept.graph.get_collection(_GraphKeys.QUEUE_RUNNERS):
      return 'the model_fn\'s graph has queue runners'
    return None

  def _prepare(self, estimator, kept):
    """What ``Estimator._train_with_estimator_spec`` adds to the graph, once."""
    # pylint: disable=protected-access
    config = estimator.config
    spec = kept.spec
    if estimator._warm_start_settings and not tf.train.latest_checkpoint(estimator.model_dir):
      tf.compat.v1.logging.info('Warm-starting with WarmStartSettings: %s',
                                estimator._warm_start_settings)
      tf.compat.v1.train.warm_start(*estimator._warm_start_settings)
    if not any(s.op.name == 'loss' for s in tf.compat.v1.get_collection(_GraphKeys.SUMMARIES)):
      tf.compat.v1.summary.scalar('loss', spec.loss)
    tf.compat.v1.add_to_collection(_GraphKeys.LOSSES, spec.loss)
    if not tf.compat.v1.get_collection(_GraphKeys.SAVERS):
      tf.compat.v1.add_to_collection(_GraphKeys.SAVERS, tf.compat.v1.train.Saver(
          sharded=True, max_to_keep=config.keep_checkpoint_max,
          keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours,
          defer_build=True, save_relative_paths=True))
    kept.prepared = True

  def _run(self, estimator, kept, graph_def, hooks, saving_listeners):
    """``Estimator._train_with_estimator_spec`` for a local chief, in the kept graph.

    The graph is open while the hooks begin (the first time they see it, this project's
    hooks build their ops; see :func:`_kept_graph_safe`), then finalized until the end of
    the call, as MonitoredSession finalizes a new graph.
    """
    # pylint: disable=protected-access
    config = estimator.config
    model_dir = estimator.model_dir
    spec = kept.spec
    if kept.graph.finalized:
      kept.graph._unsafe_unfinalize()
    with kept.graph.as_default():
      if not kept.prepared:
        with kept.graph.device(estimator._device_fn):
          self._prepare(estimator, kept)
      stop_hook.new_session(kept.graph)
      worker_hooks = [_InputHook(kept, graph_def)] + list(hooks)
      worker_hooks.append(tf.compat.v1.train.NanTensorHook(spec.loss))
      if config.log_step_count_steps is not None:
        worker_hooks.append(tf.compat.v1.train.LoggingTensorHook(
            {'loss': spec.loss, 'step': kept.global_step},
            every_n_iter=config.log_step_count_steps))
      # MonitoredTrainingSession's hooks for a chief, in its order; the saver hook given
      # (fit's) or this Estimator's, with the saving listeners, as the Estimator does.
      saver_hooks = _saver.saver_hooks(hooks)
      all_hooks = []
      if not saver_hooks:
        saver_hooks = all_hooks = [_saver.SafeCheckpointSaverHook.from_config(
            model_dir, config, graph_token=estimator.graph_token)]
      for listener in saving_listeners or ():
        if listener not in saver_hooks[0]._listeners:
          saver_hooks[0]._listeners.append(listener)
      if config.log_step_count_steps and config.log_step_count_steps > 0:
        all_hooks.append(tf.compat.v1.train.StepCounterHook(
            output_dir=model_dir, every_n_steps=config.log_step_count_steps))
      if config.save_summary_steps and config.save_summary_steps > 0:
        all_hooks.append(tf.compat.v1.train.SummarySaverHook(
            scaffold=spec.scaffold, save_steps=config.save_summary_steps,
            output_dir=model_dir))
      all_hooks += worker_hooks
      creator = _SessionCreator(kept, config, model_dir)
      with tf.compat.v1.train.MonitoredSession(session_creator=creator, hooks=all_hooks,
                                               stop_grace_period_secs=120) as session:
        loss = None
        current_step = 0
        while not session.should_stop():
          current_step += 1
          with trace.Trace('train', step_num=current_step, _r=1):
            _, loss = session.run([spec.train_op, spec.loss])
      if current_step == 0:
        tf.compat.v1.logging.warn('Training with estimator made no steps. '
                                  'Perhaps input is empty or misspecified.')
    return loss
