"""StepsPerRunStopHook and the loops it bounds (tfest_adapters/_core/stop_hook.py).

A toy loop stands for the templates' in-graph loop: each run advances the global step by up
to ``K`` steps, never past the ``last_step`` the hook feeds.
"""

import tensorflow as tf

from tfest_adapters._core import stop_hook
from tfest_adapters._core.stop_hook import StepsPerRunStopHook

K = 4


def _graph(with_loop=True):
  """``(graph, train_op)``: one step per run, or up to K (the loop) when ``with_loop``.

  ``train_op`` returns the global step after the run.
  """
  graph = tf.Graph()
  with graph.as_default():
    global_step = tf.compat.v1.train.get_or_create_global_step()
    if not with_loop:
      return graph, tf.compat.v1.assign_add(global_step, 1)
    last_step = tf.compat.v1.placeholder_with_default(
      tf.constant(stop_hook.NO_LAST_STEP, tf.int64), [], name='last_step'
    )
    steps = tf.minimum(tf.constant(K, tf.int64), last_step - global_step.read_value())
    global_step_after = tf.compat.v1.assign_add(global_step, steps)
    stop_hook.add_loop(graph, last_step, global_step_after)
  return graph, global_step_after


def _train(graph_and_train_op, hooks):
  """The global step after each run of a MonitoredSession with ``hooks``, until it stops."""
  graph, train_op = graph_and_train_op
  steps = []
  with graph.as_default():
    with tf.compat.v1.train.MonitoredSession(hooks=hooks) as session:
      while not session.should_stop():
        steps.append(int(session.run(train_op)))
  return steps


def test_a_graph_registers_its_loops_in_order():
  graph = tf.Graph()
  assert stop_hook.loops(graph) == ()
  stop_hook.add_loop(graph, 'bound', 'after')
  stop_hook.add_loop(graph, 'bound 2', 'after 2')
  first, second = stop_hook.loops(graph)
  assert (first.last_step, first.global_step_after) == ('bound', 'after')
  assert (second.last_step, second.global_step_after) == ('bound 2', 'after 2')
  assert first.last_steps == [] and first.feeder is None


def test_without_a_loop_it_is_tfs_stop_at_step_hook():
  assert _train(_graph(with_loop=False), [StepsPerRunStopHook(num_steps=3)]) == [1, 2, 3]


def test_the_loop_stops_exactly_at_the_last_step():
  # Without the hook's bound the third run would reach 12.
  assert _train(_graph(), [StepsPerRunStopHook(last_step=10)]) == [4, 8, 10]


def test_several_hooks_stop_at_the_first_of_their_last_steps():
  graph, train_op = _graph()
  hooks = [StepsPerRunStopHook(last_step=10), StepsPerRunStopHook(num_steps=7)]
  assert _train((graph, train_op), hooks) == [4, 7]
  (loop,) = stop_hook.loops(graph)
  assert loop.feeder is hooks[0]  # One hook feeds the bound.
  assert loop.last_steps == [10, 7]
  stop_hook.new_session(graph)
  assert loop.last_steps == [] and loop.feeder is None


def test_a_session_already_at_the_last_step_stops_before_running():
  assert _train(_graph(), [StepsPerRunStopHook(last_step=0)]) == []
