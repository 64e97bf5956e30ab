"""make_estimator's Estimator (estimator/_estimator.py): exact steps, saving as fit."""

import os

import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from tfest_adapters import make_estimator
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.models import classifier_model_fn

PARAMS = dict(feature_keys=['f0', 'f1', 'f2', 'f3'], hidden_units=[4], n_classes=3)


def _grouped_input_fn(data, steps_per_run=4):
  features, labels = data
  return numpy_input_fn(
    features,
    labels,
    batch_size=8,
    num_epochs=None,
    shuffle=True,
    seed=0,
    steps_per_run=steps_per_run,
  )


@pytest.mark.parametrize('kwargs, expected', [(dict(steps=10), 10), (dict(max_steps=7), 7)])
def test_train_stops_exactly_with_groups_of_steps(small_data, tmp_path, kwargs, expected):
  estimator = make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  estimator.train(_grouped_input_fn(small_data), **kwargs)
  assert estimator.get_variable_value('global_step') == expected
  estimator.train(_grouped_input_fn(small_data), steps=5)  # From 10 (or 7): again exact.
  assert estimator.get_variable_value('global_step') == expected + 5


def test_tfs_estimator_overshoots_where_this_one_stops(small_data, tmp_path):
  """The reason for the override: TF's StopAtStepHook sees a group's end, not its steps."""
  estimator = tf.estimator.Estimator(classifier_model_fn, str(tmp_path / 'tf'), params=PARAMS)
  estimator.train(_grouped_input_fn(small_data), steps=10)
  # Its stop looks at the global step fetched with a run, read before or after the run's
  # loop (a race): it ends 2 or 6 steps past the last, after three or four whole groups.
  assert estimator.get_variable_value('global_step') in (12, 16)


def _mtime_ns(path):
  return os.stat(path).st_mtime_ns


def test_the_restored_checkpoint_and_the_same_graph_are_not_written_again(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  estimator = make_estimator(boring_model_fn, {}, model_dir, seed=0)
  input_fn = boring_input_fn(*small_data)
  estimator.train(input_fn, steps=3)
  checkpoint, graph = model_dir / 'model.ckpt-3.index', model_dir / 'graph.pbtxt'
  assert (model_dir / 'model.ckpt-0.index').exists()  # TF's save at the start of a fresh dir.
  first = _mtime_ns(checkpoint), _mtime_ns(graph)
  estimator.train(input_fn, steps=2)
  assert (_mtime_ns(checkpoint), _mtime_ns(graph)) == first
  assert tf.train.latest_checkpoint(str(model_dir)).endswith('model.ckpt-5')
  assert (model_dir / 'model.ckpt-5.meta').exists()  # Each checkpoint keeps its meta graph.
  # Another Estimator (its model_fn or params may differ) writes its graph again.
  make_estimator(boring_model_fn, {}, model_dir, seed=0).train(input_fn, steps=1)
  assert _mtime_ns(graph) != first[1]
  # So does this one once graph.pbtxt is gone.
  os.remove(graph)
  estimator.train(input_fn, steps=1)
  assert graph.exists()


def test_the_event_file_holds_the_graph(small_data, tmp_path):
  model_dir = tmp_path / 'm'
  make_estimator(boring_model_fn, {}, model_dir, seed=0).train(
    boring_input_fn(*small_data), steps=2
  )
  events = [f for f in os.listdir(model_dir) if f.startswith('events.out')]
  kinds = set()
  for event in tf.compat.v1.train.summary_iterator(str(model_dir / events[0])):
    kinds.add(event.WhichOneof('what'))
  assert {'graph_def', 'meta_graph_def'} <= kinds


def test_saving_listeners_keep_tfs_saver_hook_and_its_save_at_the_start(small_data, tmp_path):
  """train_and_evaluate's listener skips the first save, TF's start-of-session save."""
  calls = []

  class Listener(tf.compat.v1.train.CheckpointSaverListener):
    def after_save(self, session, global_step_value):
      calls.append(global_step_value)

  estimator = make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0, save_checkpoints_steps=2)
  estimator.train(boring_input_fn(*small_data), steps=5, saving_listeners=[Listener()])
  assert calls == [0, 2, 4, 5]


def test_a_model_fn_with_its_own_saver_keeps_tfs_saver_hook(small_data, tmp_path):
  def model_fn(features, labels, mode, params):
    spec = boring_model_fn(features, labels, mode, params)
    saver = tf.compat.v1.train.Saver(max_to_keep=1)
    return spec._replace(scaffold=tf.compat.v1.train.Scaffold(saver=saver))

  model_dir = tmp_path / 'm'
  estimator = make_estimator(model_fn, {}, model_dir, seed=0)
  estimator.train(boring_input_fn(*small_data), steps=3)
  assert tf.train.latest_checkpoint(str(model_dir)).endswith('model.ckpt-3')
