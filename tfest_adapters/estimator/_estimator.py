"""The Estimator that make_estimator returns: ``tf.estimator.Estimator``, trained as fit trains.

Three private members of the pinned ``tensorflow-estimator==2.15.0`` are overridden for
training (the first two as ``TPUEstimator`` overrides them); ``evaluate``, ``predict`` and
``_export_all_saved_models`` (which TF lets subclasses override) are TF's, after refusing a
checkpoint of another model. Every spec the model_fn returns is checked (``models``).
"""

import contextlib
import os
import threading
import weakref

import tensorflow as tf
from tensorflow.python.util import function_utils  # The Estimator's own fn_args.

from tfest_adapters import exceptions
from tfest_adapters import models
from tfest_adapters._core import groups
from tfest_adapters._core import model_fn_call
from tfest_adapters._core import stop_hook
from tfest_adapters.estimator import _auto_steps
from tfest_adapters.estimator import _compatibility
from tfest_adapters.estimator import _kept_session
from tfest_adapters.estimator import _saver

# The overrides allowed: TF's own list (estimator.py, _assert_members_are_not_overridden),
# the three of the module doc, the check itself, and the two readers of a checkpoint.
_ALLOWED_OVERRIDES = frozenset(
  [
    'model_fn',
    '_create_and_assert_global_step',
    '_export_all_saved_models',
    '_tf_api_names',
    '_tf_api_names_v1',
    '_estimator_api_names',
    '_estimator_api_names_v1',
    '_estimator_api_constants',
    '_estimator_api_constants_v1',
    'latest_checkpoint',
    '_convert_train_steps_to_hooks',
    '_train_with_estimator_spec',
    '_train_model_default',
    '_assert_members_are_not_overridden',
    'evaluate',
    'predict',
  ]
)


class Estimator(tf.estimator.Estimator):
  """``tf.estimator.Estimator`` stopping exactly with steps per run, saving as ``fit`` saves.

  Made by :func:`tfest_adapters.make_estimator`. ``train()`` stops exactly with groups of
  steps, does not re-save the restored checkpoint, and keeps its graph and session for the
  next call when that call could not tell the difference; ``close()`` frees them.

  Args:
    *args, **kwargs: those of ``tf.estimator.Estimator``.
    keep_session: bool; keep the graph and session of a ``train()`` call for the next one.
    steps_per_run: ``'auto'``: choose ``params['steps_per_run']`` at the first training
      (:meth:`resolve_steps_per_run`); None: the params say.

  Attributes:
    steps_per_run: ``'auto'`` until chosen, then the K chosen (an input_fn that yields no
      groups still trains one step per run); None when the params say.
  """

  def _assert_members_are_not_overridden(self):
    """TF's check that no member of the Estimator is overridden, but for the three above."""
    members = {m for m in dir(tf.estimator.Estimator) if not m.startswith('__')}
    for cls in type(self).__mro__:
      if cls is tf.estimator.Estimator:
        break
      overridden = sorted(
        m
        for m in (set(cls.__dict__) & members) - _ALLOWED_OVERRIDES
        if getattr(tf.estimator.Estimator, m) is not cls.__dict__[m]
      )
      if overridden:
        raise ValueError(
          'Subclasses of Estimator cannot override members of Estimator. '
          '{} does override {}'.format(cls, overridden)
        )

  def __init__(self, model_fn, *args, keep_session=True, steps_per_run=None, **kwargs):
    # The checkpoint the current call of this thread reads: (model_dir, path) or None.
    self._reading = threading.local()
    super().__init__(checked_model_fn(model_fn, self._reading), *args, **kwargs)
    # Stands for this Estimator's graphs in SafeCheckpointSaverHook (fit uses it too).
    self.graph_token = object()
    self._keeper = _kept_session.Keeper(keep_session)
    self.steps_per_run = steps_per_run
    self._auto = steps_per_run == groups.AUTO
    self._grouping = weakref.WeakKeyDictionary()  # input_fn -> whether it yields groups.

  def resolve_steps_per_run(self, input_fn, cadences=()):
    """The steps per run this Estimator trains ``input_fn`` with; chooses K for ``'auto'``.

    With ``steps_per_run='auto'`` the first call measures a training step in a throwaway
    graph and chooses K (``estimator/_auto_steps.py``): at most 64, a divisor of the
    checkpoint and summary intervals and of ``cadences`` (fit's ``eval_every_steps``), logged
    once. Every call then sets ``params['steps_per_run']`` to K, or to 1 for an input_fn that
    yields no groups. ``train()`` calls it; so does ``fit``, with its evaluation interval.

    Returns:
      The steps per run of a training with ``input_fn``.
    """
    if not self._auto:
      return groups.params_steps_per_run(self._params)
    config = self.config
    if self._train_distribution or config.cluster_spec or config.master:
      k = 1  # A strategy or a cluster runs one step per run, unless the params name K.
    elif not self._groups(input_fn):
      k = 1  # An input_fn yielding single batches.
    elif self.steps_per_run == groups.AUTO:
      k = self._choose(input_fn, _auto_steps.step_cadences(self.config, cadences))
    else:
      k = self.steps_per_run
    self._params[groups.PARAMS_KEY] = k
    return k

  def _choose(self, input_fn, cadences):
    """Measures a step of ``input_fn`` and chooses K (1, still 'auto', if none was timed)."""
    try:
      seconds = _auto_steps.measure_step_seconds(
        self._model_fn, input_fn, self._params, self.config
      )
    except Exception as e:  # The training call that follows raises it as it would.
      tf.compat.v1.logging.warning(
        "steps_per_run='auto': measuring a step failed (%s: %s); one step per run",
        type(e).__name__,
        e,
      )
      self.steps_per_run = 1  # For good: measuring again would fail again.
      return 1
    if seconds is None:  # Its input ran out before a timed run: one step per run, not asked again.
      self._remember_grouping(input_fn, False)
      return 1
    self.steps_per_run = _auto_steps.choose_steps_per_run(seconds, cadences)
    tf.compat.v1.logging.info(
      "steps_per_run='auto': %d training steps per session.run (one step took %.3g ms; K "
      'divides the step intervals %s, at most %d)',
      self.steps_per_run,
      seconds * 1e3,
      list(cadences) or 'none',
      _auto_steps.MAX_STEPS_PER_RUN,
    )
    return self.steps_per_run

  def _remember_grouping(self, input_fn, grouping):
    try:
      self._grouping[input_fn] = grouping
    except TypeError:  # Not weakly referenceable: asked again at every call.
      pass

  def _groups(self, input_fn):
    try:
      return self._grouping[input_fn]
    except (KeyError, TypeError):
      pass
    try:  # The probe sets params['steps_per_run'] itself.
      grouping = _auto_steps.groups_batches(input_fn, self._params, self.config)
    except Exception:  # The training call raises it as it would.
      grouping = False
    self._remember_grouping(input_fn, grouping)
    return grouping

  def close(self):
    """Closes the training session kept since the last ``train()``, freeing its memory.

    The next ``train()`` builds its graph and session anew (and keeps them again). Also done
    when the Estimator is garbage-collected, and at exit.
    """
    self._keeper.close()

  @contextlib.contextmanager
  def _reading_checkpoint(self, path):
    """While open, the model_fn's graphs are compared with checkpoint ``path`` (None: none)."""
    previous = getattr(self._reading, 'checkpoint', None)
    self._reading.checkpoint = (self._model_dir, path) if path else None
    try:
      yield
    finally:
      self._reading.checkpoint = previous

  def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None):
    """The Estimator's, refusing a checkpoint of another model before anything is written.

    Raises:
      ModelDirError: the checkpoint (``checkpoint_path``, default the latest) lacks variables
        of this model or holds them with another shape; raised while the graph is built,
        before the session and before the ``eval`` directory.
    """
    path = checkpoint_path or self.latest_checkpoint()
    with self._reading_checkpoint(path):
      return super().evaluate(input_fn, steps, hooks, path, name)

  def predict(
    self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True
  ):
    """The Estimator's, refusing a checkpoint of another model (see ``evaluate``)."""
    path = checkpoint_path or self.latest_checkpoint()
    results = super().predict(input_fn, predict_keys, hooks, path, yield_single_examples)
    with self._reading_checkpoint(path):  # The first result builds the graph.
      first = next(results, _END)
    if first is _END:
      return
    yield first
    yield from results

  def _export_all_saved_models(
    self,
    export_dir_base,
    input_receiver_fn_map,
    assets_extra=None,
    as_text=False,
    checkpoint_path=None,
    strip_default_attrs=True,
  ):
    """The Estimator's (under every export method), refusing a checkpoint of another model.

    A refused export leaves ``export_dir_base`` as it was (TF's ``temp-`` directory, and the
    base when TF made it, are removed).
    """
    path = checkpoint_path or self.latest_checkpoint()
    base = os.fsdecode(export_dir_base)
    existed = tf.io.gfile.isdir(base)
    before = set(tf.io.gfile.listdir(base)) if existed else set()
    try:
      with self._reading_checkpoint(path):
        return super()._export_all_saved_models(
          export_dir_base, input_receiver_fn_map, assets_extra, as_text, path, strip_default_attrs
        )
    except exceptions.ModelDirError:
      if not existed and tf.io.gfile.isdir(base):
        tf.io.gfile.rmtree(base)  # Made by TF for its temp- directory.
      elif existed:
        for name in set(tf.io.gfile.listdir(base)) - before:
          if name.startswith('temp-'):
            tf.io.gfile.rmtree(os.path.join(base, name))
      raise

  def _train_model_default(self, input_fn, hooks, saving_listeners):
    """The Estimator's, keeping the graph and session for the next call when it can."""
    self.resolve_steps_per_run(input_fn)
    return self._keeper.train(self, input_fn, hooks, saving_listeners, super()._train_model_default)

  def _convert_train_steps_to_hooks(self, steps, max_steps):
    """``steps``/``max_steps`` stop with StepsPerRunStopHook: exactly, with groups of steps.

    With one step per ``session.run`` it is the Estimator's ``StopAtStepHook``; with groups
    of batches (``steps_per_run``) it ends the in-graph loop at the last step, where TF's
    hook overshoots by up to ``2K - 2`` steps. A distribution strategy keeps TF's hook.
    """
    if (steps is None and max_steps is None) or self._train_distribution:
      return super()._convert_train_steps_to_hooks(steps, max_steps)
    return [stop_hook.StepsPerRunStopHook(num_steps=steps, last_step=max_steps)]

  def _train_with_estimator_spec(
    self, estimator_spec, worker_hooks, hooks, global_step_tensor, saving_listeners
  ):
    """The Estimator's, with SafeCheckpointSaverHook where TF would add its saver hook.

    That is: the chief of a run saving checkpoints, with no saver hook, no Saver of the
    model_fn's own, no strategy and no saving listener (listeners keep TF's hook: they may
    count on its save at the start of the session, as ``train_and_evaluate``'s does). The
    checkpoints are the same; the restored one is not saved again at the start of the call,
    nor the same graph written again.
    """
    config = self._config
    saver_hooks = _saver.saver_hooks(
      list(worker_hooks) + list(hooks) + list(estimator_spec.training_chief_hooks)
    )
    if (
      (config.save_checkpoints_steps or config.save_checkpoints_secs)
      and config.is_chief
      and not saver_hooks
      and not self._train_distribution
      and estimator_spec.scaffold.saver is None
      and not saving_listeners
    ):
      hooks = list(hooks) + [
        _saver.SafeCheckpointSaverHook.from_config(
          self._model_dir, config, graph_token=self.graph_token
        )
      ]
    return super()._train_with_estimator_spec(
      estimator_spec, worker_hooks, hooks, global_step_tensor, saving_listeners
    )


_END = object()


def checked_model_fn(model_fn, reading):
  """Wraps ``model_fn``: its specs checked, its graph compared with the checkpoint read.

  Args:
    model_fn: the model_fn given to the Estimator.
    reading: an object whose ``checkpoint`` attribute, when set, is ``(model_dir, path)`` of
      the checkpoint the current call will restore into the graph.

  Returns:
    ``model_fn(features, labels, mode, params, config)`` returning ``model_fn``'s spec, once
    per graph: checked by ``models.mode_checked`` (so each mode raises the library's
    ``SpecError``, not TF's ``ValueError: Missing loss.``), and, while ``reading`` names a
    checkpoint, after checking with ``check_checkpoint`` that the graph's variables are its.
  """
  if not getattr(model_fn, 'mode_checked', False):
    model_fn = models.mode_checked(model_fn)
  args = set(function_utils.fn_args(model_fn))

  def model_fn_checked(features, labels, mode, params, config):
    spec = model_fn_call.call_model_fn(
      model_fn,
      args,
      features,
      labels,
      mode,
      params,
      config,
    )
    checkpoint = getattr(reading, 'checkpoint', None)
    if checkpoint is not None and spec.scaffold.saver is None:
      _compatibility.check_checkpoint(*checkpoint)
    return spec

  model_fn_checked.__name__ = getattr(model_fn, '__name__', 'model_fn')
  model_fn_checked.__qualname__ = getattr(model_fn, '__qualname__', 'model_fn')
  model_fn_checked.__doc__ = getattr(model_fn, '__doc__', None)
  return model_fn_checked
