"""StepRecorderHook: the loss of every training step, under its exact global step."""

import array
import time

import tensorflow as tf

from tfest_adapters import exceptions

# Runs in a row that may leave the global step where it was before training is declared stuck.
# More than one, so that a train_op updating the step only every few runs still works.
DEFAULT_STALL_RUNS = 10


class StepRecorderHook(tf.compat.v1.train.SessionRunHook):
  """Records (step, loss, wall time) of every training step and checks the step advances.

  The global step is read after each run, so the loss of the first batch is step 1, as
  TensorBoard's loss summary has it. When the global step stops advancing, it raises a
  TrainingError naming the cause, instead of letting ``Estimator.train(max_steps=...)`` loop
  forever.

  Args:
    listeners: callables ``listener(step, loss)`` called after every step.
    stall_runs: consecutive ``session.run`` calls without any progress of the global step
      after which a :class:`TrainingError` is raised.

  Attributes:
    steps, losses, times: compact arrays of everything recorded so far (across the
      ``Estimator.train`` calls the hook is passed to).
  """

  kept_graph_safe = True  # Adds no op to the graph (see tfest_adapters.estimator._kept_session).

  def __init__(self, listeners=(), stall_runs=DEFAULT_STALL_RUNS):
    self.listeners = list(listeners)
    self.stall_runs = stall_runs
    self.steps = array.array('q')
    self.losses = array.array('d')
    self.times = array.array('d')
    self._loss = None
    self._global_step = None
    self._last_step = None
    self._stalled = 0

  def begin(self):
    # Estimator.train adds the EstimatorSpec's loss last to the LOSSES collection
    # (_train_with_estimator_spec) before any hook's begin(), in the plain and in the
    # distributed path (where it is the loss reduced over replicas).
    losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.LOSSES)
    self._loss = losses[-1] if losses else None
    self._global_step = tf.compat.v1.train.get_global_step()
    if self._global_step is None:
      raise exceptions.TrainingError(
        'The training graph has no global step: the Estimator creates one, so the model_fn '
        'must not build its own graph or reset the default one'
      )
    self._last_step = None
    self._stalled = 0

  def after_create_session(self, session, coord):
    del coord  # Unused.
    self._last_step = int(session.run(self._global_step))

  def before_run(self, run_context):
    del run_context  # Unused.
    if self._loss is None:
      return None
    return tf.compat.v1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    # The global step read here is the one the run left behind: exact, unlike a value fetched
    # in the same run as the train_op, which may be read before or after the increment.
    step = int(run_context.session.run(self._global_step))
    loss = float('nan') if run_values.results is None else float(run_values.results)
    if self._last_step is not None and step <= self._last_step:
      self._stalled += 1
      if self._stalled >= self.stall_runs:
        raise exceptions.TrainingError(
          'The global step did not advance in %d training steps (it stayed at %d): the '
          'train_op does not increment it, so Estimator.train(max_steps=...) would never '
          'end. Pass global_step=tf.compat.v1.train.get_global_step() to '
          'optimizer.minimize / apply_gradients (or group the train_op with '
          'tf.compat.v1.assign_add(global_step, 1))' % (self._stalled, step)
        )
      return
    self._stalled = 0
    self._last_step = step
    self.steps.append(step)
    self.losses.append(loss)
    self.times.append(time.time())
    for listener in self.listeners:
      listener(step, loss)
