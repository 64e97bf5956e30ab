"""make_estimator's Estimator (estimator/_estimator.py): exact steps, saving as fit."""

import os

import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from tfest_adapters import make_estimator
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import mode_checked

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


# ------------------------------------------------------------------ the model_fn's specs


def _broken_in(broken):
  """boring_model_fn, but the spec of mode ``broken`` misses the field that mode needs."""

  def model_fn(features, labels, mode, params):
    spec = boring_model_fn(features, labels, mode, params)
    if mode != broken:
      return spec
    if mode == tf.estimator.ModeKeys.PREDICT:  # No predictions.
      return tf.estimator.EstimatorSpec(mode, loss=tf.constant(0.0))
    # No loss: TF's EstimatorSpec raises its bare ValueError('Missing loss.').
    return tf.estimator.EstimatorSpec(mode, predictions=spec.predictions, train_op=spec.train_op)

  return model_fn


_NO_LOSS = 'spec has no loss: return EstimatorSpec(mode, loss=loss, '
_SPEC_ERRORS = [
  ('train', 'train', 'TRAIN ' + _NO_LOSS + 'train_op=optimizer.minimize(loss, ...))'),
  ('fit', 'train', 'TRAIN ' + _NO_LOSS + 'train_op=optimizer.minimize(loss, ...))'),
  ('evaluate', 'eval', 'EVAL ' + _NO_LOSS + 'eval_metric_ops={...})'),
  ('predict', 'infer', 'PREDICT spec has no predictions: return EstimatorSpec(mode, predictions='),
  ('export', 'infer', 'PREDICT spec has no predictions: return EstimatorSpec(mode, predictions='),
]


@pytest.mark.parametrize('entry, broken, message', _SPEC_ERRORS, ids=[e[0] for e in _SPEC_ERRORS])
def test_every_entry_point_raises_the_librarys_spec_error(
  small_data, tmp_path, entry, broken, message
):
  from tfest_adapters import exceptions
  from tfest_adapters import fit
  from tfest_adapters import serving

  trained = tmp_path / 'trained'
  input_fn = boring_input_fn(*small_data)
  make_estimator(boring_model_fn, {}, trained, seed=0).train(input_fn, steps=2)
  estimator = make_estimator(_broken_in(broken), {}, trained, seed=0)
  calls = {
    'train': lambda: estimator.train(input_fn, steps=1),
    'fit': lambda: fit(estimator, input_fn, steps=1, progress=False),
    'evaluate': lambda: estimator.evaluate(boring_input_fn(*small_data, repeat=False)),
    'predict': lambda: next(estimator.predict(boring_input_fn(small_data[0], None, repeat=False))),
    'export': lambda: estimator.export_saved_model(
      str(tmp_path / 'export'),
      serving.build_serving_input_receiver_fn({k: v[:2] for k, v in small_data[0].items()}),
    ),
  }
  with pytest.raises(exceptions.SpecError) as info:
    calls[entry]()
  assert str(info.value).startswith(message), str(info.value)
  assert tf.train.latest_checkpoint(str(trained)).endswith('model.ckpt-2')


@pytest.mark.parametrize('already_checked', [False, True], ids=['plain', 'mode_checked'])
def test_a_spec_is_checked_once_per_graph_not_per_step(
  small_data, tmp_path, monkeypatch, already_checked
):
  from tfest_adapters.models import _spec_checks

  calls = []
  check = _spec_checks.check_spec
  monkeypatch.setattr(
    _spec_checks, 'check_spec', lambda spec, mode: calls.append(mode) or check(spec, mode)
  )
  model_fn = mode_checked(boring_model_fn) if already_checked else boring_model_fn
  estimator = make_estimator(model_fn, {}, tmp_path / 'm', seed=0, keep_session=False)
  estimator.train(boring_input_fn(*small_data), steps=20)
  assert calls == [tf.estimator.ModeKeys.TRAIN]
