"""make_estimator's Estimator against tf.estimator.Estimator itself, side by side.

Both train the same model_fn on the same data with the same seed and RunConfig; what each
writes and returns must be the same, but for the differences docs/fidelity.md lists.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from tfest_adapters import make_estimator
from tfest_adapters.models import classifier_model_fn

PARAMS = dict(feature_keys=['f0', 'f1', 'f2', 'f3'], hidden_units=[4], n_classes=3)


def _pair(model_fn, params, tmp_path):
  config = tf.estimator.RunConfig(tf_random_seed=0, save_checkpoints_steps=4)
  tfs = tf.estimator.Estimator(model_fn, str(tmp_path / 'tf'), config=config, params=params)
  ours = make_estimator(model_fn, params, str(tmp_path / 'ours'), seed=0, save_checkpoints_steps=4)
  return tfs, ours


def _state(model_dir):
  state = tf.train.get_checkpoint_state(model_dir)
  return [os.path.basename(p) for p in state.all_model_checkpoint_paths]


def _files(model_dir):
  """model_dir's files, event files by folder only (their names hold a time and a host)."""
  names = set()
  for folder, _, files in os.walk(model_dir):
    for name in files:
      path = os.path.relpath(os.path.join(folder, name), model_dir)
      names.add(os.path.join(os.path.dirname(path), 'events') if 'tfevents' in name else path)
  return sorted(names)


def _train_calls(estimator, input_fn):
  """What each train() call leaves: (global step, checkpoint state, files)."""
  model_dir = estimator.model_dir
  seen = []
  for kwargs in (dict(steps=10), dict(steps=3), dict(max_steps=12), dict(max_steps=20)):
    estimator.train(input_fn, **kwargs)
    step = int(estimator.get_variable_value('global_step'))
    seen.append((kwargs, step, _state(model_dir), _files(model_dir)))
  return seen


@pytest.mark.parametrize('model', ['plain_model_fn', 'classifier_model_fn'])
def test_checkpoints_and_steps_are_tfs(model, small_data, boring_model_fn, tmp_path):
  model_fn, params = (
    (boring_model_fn, {}) if model == 'plain_model_fn' else (classifier_model_fn, PARAMS)
  )
  tfs, ours = _pair(model_fn, params, tmp_path)
  input_fn = boring_input_fn(*small_data)
  expected = _train_calls(tfs, input_fn)
  assert _train_calls(ours, input_fn) == expected
  # On a fresh model_dir both save the untrained variables at the start of the first call;
  # train(max_steps=12) at step 13 trains nothing and saves nothing; 5 checkpoints are kept.
  assert [(step, state) for _, step, state, _ in expected] == [
    (10, ['model.ckpt-0', 'model.ckpt-4', 'model.ckpt-8', 'model.ckpt-10']),
    (13, ['model.ckpt-0', 'model.ckpt-4', 'model.ckpt-8', 'model.ckpt-10', 'model.ckpt-13']),
    (13, ['model.ckpt-0', 'model.ckpt-4', 'model.ckpt-8', 'model.ckpt-10', 'model.ckpt-13']),
    (20, ['model.ckpt-8', 'model.ckpt-10', 'model.ckpt-13', 'model.ckpt-17', 'model.ckpt-20']),
  ]
  assert 'model.ckpt-0.index' in expected[0][3] and 'graph.pbtxt' in expected[0][3]
  if model == 'plain_model_fn':
    # Its v1 layer draws its initial weights from Keras' global generator, which TF's
    # Estimator does not seed (they depend on what the process did before); make_estimator's
    # seed does (docs/fidelity.md). The templates seed it themselves: the same weights.
    return
  for name in tfs.get_variable_names():
    np.testing.assert_array_equal(ours.get_variable_value(name), tfs.get_variable_value(name))


def test_evaluate_and_predict_are_tfs(small_data, tmp_path):
  tfs, ours = _pair(classifier_model_fn, PARAMS, tmp_path)
  train_fn = boring_input_fn(*small_data)
  eval_fn = boring_input_fn(*small_data, repeat=False)
  features, _ = small_data
  results = []
  for estimator in (tfs, ours):
    estimator.train(train_fn, steps=6)
    whole = estimator.evaluate(eval_fn)
    two = estimator.evaluate(eval_fn, steps=2, name='two')
    predictions = list(estimator.predict(boring_input_fn(features, None, repeat=False)))
    results.append((whole, two, predictions, _files(estimator.model_dir)))
  (whole, two, predictions, files), expected = results[1], results[0]
  assert sorted(whole) == sorted(expected[0]) == ['accuracy', 'average_loss', 'global_step', 'loss']
  for ours_metrics, tfs_metrics in ((whole, expected[0]), (two, expected[1])):
    assert {k: float(v) for k, v in ours_metrics.items()} == {
      k: float(v) for k, v in tfs_metrics.items()
    }
  assert len(predictions) == len(expected[2]) == 64
  for ours_row, tfs_row in zip(predictions, expected[2]):
    assert sorted(ours_row) == sorted(tfs_row)
    for key in ours_row:
      np.testing.assert_array_equal(ours_row[key], tfs_row[key])
  assert files == expected[3]
  assert 'eval/events' in files and 'eval_two/events' in files
