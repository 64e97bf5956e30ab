"""The stop hook of a training loop of several steps per run, and the loops it bounds.

A template that trains a group of batches in one ``session.run`` registers the loop with
:func:`add_loop`: a placeholder bounding the global step the loop may reach, and the global
step read after the loop. :class:`StepsPerRunStopHook` feeds that bound and stops on that
read, so training stops exactly at its last step.
"""

import numpy as np
import tensorflow as tf

# Attribute of a training graph with loops: its Loops, for the stop hook. Not a graph
# collection: each checkpoint's meta graph would warn that it cannot serialize them.
_LOOPS_ATTR = '_tfest_steps_per_run_loops'

# The bound fed when no stop hook bounds the loop.
NO_LAST_STEP = np.iinfo(np.int64).max


class Loop:
  """What the stop hooks of a training graph share about its loop of steps.

  Attributes:
    last_step: int64 placeholder (default: :data:`NO_LAST_STEP`) bounding the global step
      the loop may reach; fed by one hook (the first to begin), with the smallest last step.
    global_step_after: the global step read after the loop, in the same run.
    last_steps: the last step of every stop hook of the session.
    feeder: the hook that feeds ``last_step``.
  """

  def __init__(self, last_step, global_step_after):
    self.last_step = last_step
    self.global_step_after = global_step_after
    self.last_steps = []
    self.feeder = None


def loops(graph):
  """The Loops of ``graph``, in the order they were built."""
  return getattr(graph, _LOOPS_ATTR, ())


def add_loop(graph, last_step, global_step_after):
  """Registers a loop of ``graph`` (see :class:`Loop`) for the stop hooks."""
  setattr(graph, _LOOPS_ATTR, loops(graph) + (Loop(last_step, global_step_after),))


def new_session(graph):
  """Forgets the stop hooks of ``graph``'s previous session, before it is trained again.

  A graph is normally trained by one MonitoredSession; make_estimator's Estimator keeps its
  training graph across ``train()`` calls, and each call's stop hooks must bound the loop,
  not the hooks of the call before.
  """
  for loop in loops(graph):
    loop.last_steps = []
    loop.feeder = None


class StepsPerRunStopHook(tf.compat.v1.train.StopAtStepHook):
  """``tf.compat.v1.train.StopAtStepHook`` that stops a loop of steps exactly at the last step.

  With one step per run it is the StopAtStepHook. In a graph whose template trains several
  steps per run (the input_fn yields groups of batches), it also feeds the loop the last
  step, so that a run ends exactly there (the run reaching it trains fewer steps), and stops
  as soon as a run reaches it, from the global step read after the loop in the same run (no
  extra ``session.run``). It is TF's ``_MultiStepStopAtStepHook`` for these loops. Several of
  them in one session (``fit``'s and a caller's) agree: the loop stops at the first of their
  last steps.

  Args:
    num_steps: train this many steps from the global step at session creation; or
    last_step: train until the global step reaches this (exactly one of the two).

  Example:

    estimator.train(grouped_input_fn, max_steps=1000,
                    hooks=[StepsPerRunStopHook(last_step=1000)])
  """

  def begin(self):
    super().begin()
    graph_loops = loops(tf.compat.v1.get_default_graph())
    self._loop = graph_loops[-1] if graph_loops else None
    if self._loop is not None and self._loop.feeder is None:
      self._loop.feeder = self  # One hook feeds the bound: a tensor is fed once per run.

  def after_create_session(self, session, coord):
    super().after_create_session(session, coord)
    if self._loop is None:
      return
    self._loop.last_steps.append(self._last_step)
    if session.run(self._global_step_tensor) >= self._last_step:
      coord.request_stop()

  def before_run(self, run_context):
    if self._loop is None:
      return super().before_run(run_context)
    feed = None
    if self._loop.feeder is self:
      feed = {self._loop.last_step: min(self._loop.last_steps)}
    return tf.compat.v1.train.SessionRunArgs(self._loop.global_step_after, feed_dict=feed)

  def after_run(self, run_context, run_values):
    if self._loop is None:
      return super().after_run(run_context, run_values)
    if run_values.results >= self._last_step:
      run_context.request_stop()
    return None
