"""FitLoop: the loop of fit, training in chunks and evaluating each chunk's checkpoint."""

import contextlib
import time
import warnings

from tfest_adapters import estimator as estimator_lib
from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.training import _arguments
from tfest_adapters.training import _callbacks
from tfest_adapters.training import _checkpoints
from tfest_adapters.training import _compatibility
from tfest_adapters.training import _error_text
from tfest_adapters.training import _history
from tfest_adapters.training import _input_checks
from tfest_adapters.training import _lock
from tfest_adapters.training import _nan_guard
from tfest_adapters.training import _numerics
from tfest_adapters.training import _signals
from tfest_adapters.training import _step_recorder


class FitLoop:
  """The training loop of :func:`fit`, in one place.

  Takes fit's arguments (checked here, before any training); :meth:`run` trains and returns
  the History. Extension points (used to add behaviour without rewriting the loop):

  * ``self.hooks``: the SessionRunHooks of every ``Estimator.train`` call: the guards
    (other-model check, non-finite loss, the checkpoint saver), the step recorder, the
    caller's, then the signal hook. Append hooks here. The checkpoint saver is fit's
    :class:`~tfest_adapters.estimator.SafeCheckpointSaverHook` (TF's, without the re-save at
    session start), which saves in its ``after_run``, before the hooks after it see the
    step: a check that must veto a save belongs in a saving listener.
  * ``self.saving_listeners``: ``tf.estimator.CheckpointSaverListener`` objects passed to
    every ``Estimator.train`` call; raising in ``before_save`` stops a checkpoint from being
    written.
  * ``self.contexts``: callables ``context(loop) -> context manager`` entered, in order,
    around the whole run (after the checks, before the first ``train``); their ``__exit__``
    sees any exception the run raises. The model_dir lock and the signal handlers are the
    first two.
  * ``self.listeners``: callables ``listener(step, loss)`` after each step (the progress bar
    is one).
  """

  def __init__(
    self,
    estimator,
    train_input_fn,
    *,
    steps=None,
    max_steps=None,
    eval_input_fn=None,
    eval_every_steps=None,
    early_stopping=None,
    hooks=(),
    progress=True,
    eval_steps=None,
    keep_best=True,
    check_numerics=False,
    lock=True,
  ):
    import tensorflow as tf

    self.estimator = _arguments.validate_estimator(estimator)
    self.model_dir = estimator.model_dir
    steps = validation.check_optional_positive_int('steps', steps)
    max_steps = validation.check_optional_positive_int('max_steps', max_steps)
    if steps is not None and max_steps is not None:
      raise exceptions.ArgumentError(
        'steps and max_steps cannot both be given, given: steps=%d, max_steps=%d. steps '
        "counts from the model_dir's checkpoint, max_steps is the global step to reach"
        % (steps, max_steps)
      )
    self.eval_every_steps = validation.check_optional_positive_int(
      'eval_every_steps', eval_every_steps
    )
    self.eval_steps = validation.check_optional_positive_int('eval_steps', eval_steps)
    self.early_stopping = _callbacks.EarlyStopping.from_arg(early_stopping)
    validation.check_bool('progress', progress)
    validation.check_bool('keep_best', keep_best)
    validation.check_bool('check_numerics', check_numerics)
    validation.check_bool('lock', lock)
    self.progress = progress
    if eval_input_fn is None:
      for name, value in (
        ('eval_every_steps', eval_every_steps),
        ('early_stopping', early_stopping),
        ('eval_steps', eval_steps),
      ):
        if value is not None:
          validation.fail('eval_input_fn', 'given when %s is' % name, None)
    if self.early_stopping is not None and self.eval_every_steps is None:
      validation.fail(
        'eval_every_steps',
        'given with early_stopping',
        None,
        'Early stopping compares evaluations made every eval_every_steps',
      )
    if self.eval_every_steps is not None and steps is None and max_steps is None:
      validation.fail(
        'steps or max_steps',
        'given with eval_every_steps',
        None,
        'fit trains in chunks of eval_every_steps, and each chunk calls train_input_fn '
        'again, so it must know where to stop',
      )
    self.user_hooks = _arguments.validate_hooks(hooks)
    self.train_input_fn = train_input_fn
    self.eval_input_fn = eval_input_fn
    self.steps = steps
    self.max_steps = max_steps
    self.keep_best = keep_best

    # steps_per_run='auto' chooses K first (evaluations on the last step of a run), so the
    # checks below build the input as training will.
    cadences = (self.eval_every_steps,) if self.eval_every_steps else ()
    if isinstance(estimator, estimator_lib.Estimator):
      self.steps_per_run = estimator.resolve_steps_per_run(train_input_fn, cadences)
    else:
      self.steps_per_run = groups.params_steps_per_run(estimator.params)
    # Inputs and metric names are checked by building their graphs, before any training.
    train_result, _ = _input_checks.check_input_fn(
      estimator, train_input_fn, tf.estimator.ModeKeys.TRAIN, 'train_input_fn', steps or max_steps
    )
    if eval_input_fn is not None:
      _input_checks.check_input_fn(
        estimator, eval_input_fn, tf.estimator.ModeKeys.EVAL, 'eval_input_fn', self.eval_steps
      )
    if self.early_stopping is not None:
      names = _input_checks.eval_metric_names(estimator, eval_input_fn)
      if self.early_stopping.metric not in names:
        raise exceptions.ArgumentKeyError(
          "early_stopping['metric'] must be one of the metrics the evaluation returns "
          '(%s), given: %r' % (', '.join(names), self.early_stopping.metric)
        )

    if check_numerics:
      self.train_input_fn = _numerics.check_numerics_input_fn(train_input_fn)

    self.recorder = _step_recorder.StepRecorderHook()
    self.listeners = self.recorder.listeners
    self.signals = _signals.SaveOnSignal()
    self.non_finite, veto = _nan_guard.non_finite_guard(
      self.model_dir, _nan_guard.input_names(train_result)
    )
    self.hooks = [_compatibility.CheckpointCompatibilityHook(self.model_dir), self.non_finite]
    self.saving_listeners = []
    config = estimator.config
    if config.save_checkpoints_steps or config.save_checkpoints_secs:
      self.saving_listeners.append(veto)
      if config.is_chief and not estimator_lib.saver_hooks(self.user_hooks):
        # After the NaN hook, whose after_run (with the batch's diagnosis) then comes first.
        self.hooks.append(
          estimator_lib.SafeCheckpointSaverHook.from_config(
            self.model_dir,
            config,
            # One token per Estimator (make_estimator's), else per fit: its chunks rebuild
            # the same graph, written once.
            graph_token=getattr(estimator, 'graph_token', None) or object(),
          )
        )
    # The signal hook last: a signal arriving during any hook of a step stops after it.
    self.hooks += [self.recorder] + self.user_hooks + [self.signals.hook]
    self.contexts = [
      lambda loop: _lock.lock_for_config(loop.model_dir, loop.estimator.config, 'fit', lock),
      lambda loop: loop.signals,
    ]
    self.start = None
    self.evals = []  # (step, wall_time, metrics, None)
    self.stopped_early = False
    self.best = None

  # -- pieces of the run

  def target_step(self, start):
    if self.max_steps is not None:
      return self.max_steps
    if self.steps is not None:
      return start + self.steps
    return None

  def next_stop(self, step, target):
    """The global step the next train chunk ends at (None: until the input runs out)."""
    if self.eval_every_steps is None:
      return target
    boundary = (step // self.eval_every_steps + 1) * self.eval_every_steps
    return boundary if target is None else min(boundary, target)

  def train_chunk(self, stop):
    """One Estimator.train call up to global step ``stop`` (None: until out of data)."""
    import tensorflow as tf

    from tfest_adapters._core import stop_hook

    hooks = list(self.hooks)
    if stop is not None and not isinstance(self.estimator, estimator_lib.Estimator):
      # Ends a loop of steps per session.run (params['steps_per_run']) exactly at `stop`,
      # as make_estimator's Estimator does by itself for max_steps; with one step per run
      # it is the Estimator's own StopAtStepHook.
      hooks.append(stop_hook.StepsPerRunStopHook(last_step=stop))
    try:
      self.estimator.train(
        self.train_input_fn,
        max_steps=stop,
        hooks=hooks,
        saving_listeners=self.saving_listeners or None,
      )
    except tf.errors.InvalidArgumentError as e:
      raise self.step_failure(e) from e

  def step_failure(self, error):
    """A TrainingError for a training step that failed on its data (an op's check)."""
    step = (self.recorder.steps[-1] if len(self.recorder.steps) else self.start) + 1
    saved = _checkpoints.latest_checkpoint_text(self.model_dir)
    numerics = _numerics.check_numerics_failure(error)
    if numerics is not None:
      name, kind = numerics
      return exceptions.TrainingError(
        'check_numerics: %s held %s values in the batch of global step %d. The step was '
        'not taken and nothing after it was saved: %s' % (name, kind, step, saved)
      )
    text = _error_text.assertion_text(error)
    if text is None:
      text = '%s: %s' % (type(error).__name__, _error_text.op_error_text(error))
    return exceptions.TrainingError(
      'Training step %d failed: %s. Nothing from that step on was saved: %s' % (step, text, saved)
    )

  def evaluate(self, step, checkpoint_path):
    """Evaluates exactly ``checkpoint_path``; records it; returns True to stop early."""
    metrics = self.estimator.evaluate(
      self.eval_input_fn, steps=self.eval_steps, checkpoint_path=checkpoint_path
    )
    self.evals.append((step, time.time(), dict(metrics), None))
    self.bar.on_eval(metrics)
    if self.best is not None:
      self.best.offer(checkpoint_path, step, metrics)
    if self.early_stopping is not None:
      value = _history.scalar_value(metrics[self.early_stopping.metric])
      return self.early_stopping.update(value)
    return False

  def history(self, start):
    """The History of this run, after the rows model_dir's event files held before it."""
    import pandas as pd

    best = self.best
    attributes = dict(
      model_dir=self.model_dir,
      stopped_early=self.stopped_early,
      best_step=best.step if best else None,
      best_metrics=best.metrics if best else None,
      best_checkpoint=best.path if best else None,
      steps_per_run=self.steps_per_run,
    )
    history = _history.History.from_records(
      self.recorder.steps, self.recorder.losses, self.recorder.times, self.evals, **attributes
    )
    if start > 0:
      try:
        earlier = _history.read_history(self.model_dir).frame
      except exceptions.TfestError:
        earlier = None
      if earlier is not None and len(earlier):
        columns = [
          c
          for c in earlier.columns
          if c in (_history.STEP, _history.WALL_TIME, _history.LOSS)
          or c.startswith(_history.EVAL_PREFIX)
        ]
        earlier = earlier.loc[earlier[_history.STEP] <= start, columns]
        frame = pd.concat([earlier, history.frame], ignore_index=True, sort=False)
        frame = frame.drop_duplicates(_history.STEP, keep='last').sort_values(_history.STEP)
        history = _history.History(frame, **attributes)
    return history

  # -- the run

  def run(self):
    """Trains (and evaluates) to the end; returns the History."""
    start, _ = _checkpoints.check_max_steps_not_reached(self.model_dir, self.max_steps)
    self.start = start
    target = self.target_step(start)
    if self.eval_input_fn is not None and self.keep_best:
      if self.early_stopping is not None:
        metric, better = self.early_stopping.metric, self.early_stopping.improved
      else:
        metric, better = 'loss', lambda value, best: value < best
      self.best = _callbacks.BestCheckpoint(self.model_dir, metric, better)
    with contextlib.ExitStack() as stack:
      for context in self.contexts:
        stack.enter_context(context(self))
      self.bar = _callbacks.ProgressBar(start, target, _callbacks.progress_enabled(self.progress))
      stack.callback(self.bar.close)
      self.listeners.append(self.bar.on_step)
      step = start
      while (target is None or step < target) and self.signals.received is None:
        stop = self.next_stop(step, target)
        self.train_chunk(stop)
        new_step, checkpoint_path = _checkpoints.checkpoint_step(self.model_dir)
        if self.signals.received is not None:
          break  # Saved at the current step; no evaluation, out as fast as possible.
        if new_step <= step:
          raise exceptions.TrainingError(
            'Estimator.train ended without advancing the global step (still %d): '
            'train_input_fn gave no batch, or the train_op does not increment the global '
            'step' % step
          )
        step = new_step
        ran_out = stop is None or step < stop
        if self.eval_input_fn is not None and (
          self.eval_every_steps is not None or ran_out or step >= target
        ):
          if self.evaluate(step, checkpoint_path):
            self.stopped_early = True
            break
        if ran_out:
          if target is not None:
            warnings.warn(
              'train_input_fn ran out of data at global step %d, before step %d: training '
              'stopped there. Repeat the training data (num_epochs=None) to train by steps'
              % (step, target),
              UserWarning,
              stacklevel=3,
            )
          break
    # The handlers are back and the lock released: act on a signal as the caller would have.
    self.signals.redeliver(self.model_dir)
    return self.history(start)
