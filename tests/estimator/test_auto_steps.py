"""steps_per_run='auto' (estimator/_auto_steps.py): K chosen, same weights as K=1, stops exact.

The tests that train set MAX_RUN_SECONDS so high that K is the largest the cadences allow: K
then does not depend on how fast the machine is (no test depends on a timing).
"""

import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
import tfest_adapters as tfa
from tfest_adapters.estimator import _auto_steps
from tfest_adapters.input_fns import numpy_input_fn
from tfest_adapters.models import classifier_model_fn
from tfest_adapters.models import make_model_fn

KEYS = ['f0', 'f1', 'f2', 'f3']
PARAMS = dict(feature_keys=KEYS, hidden_units=[8, 6], n_classes=3, optimizer='Adam')


@pytest.fixture(name='large_k')
def large_k_fixture(monkeypatch):
  """A run may take an hour: K is the largest divisor of the cadences up to the cap."""
  monkeypatch.setattr(_auto_steps, 'MAX_RUN_SECONDS', 3600.0)


def _input_fn(data, **kwargs):
  features, labels = data
  return numpy_input_fn(
    features, labels, batch_size=8, num_epochs=None, shuffle=True, seed=0, **kwargs
  )


def _weights(estimator):
  return {n: estimator.get_variable_value(n) for n in estimator.get_variable_names()}


@pytest.mark.parametrize(
  'step_seconds, cadences, expected',
  [
    (None, (), 1),  # Not measured.
    (2.0, (), 1),  # A step longer than a run may be: one per run.
    (1.0 / 8, (), 8),  # The largest K whose run takes at most MAX_RUN_SECONDS.
    (1.0 / 7.5, (), 7),
    (1e-4, (), 64),  # The cap.
    (1.0 / 20, (100,), 20),
    (1.0 / 32, (100,), 25),  # The largest divisor of the summary interval that fits.
    (1e-4, (100,), 50),
    (1e-4, (100, 30), 10),  # Every cadence: their gcd.
    (1.0 / 3, (7,), 1),
    (1e-4, (97,), 1),  # A prime interval above the cap.
  ],
)
def test_choose_steps_per_run(step_seconds, cadences, expected):
  assert _auto_steps.choose_steps_per_run(step_seconds, cadences) == expected


def test_step_cadences_are_the_configs_intervals_and_the_extra_ones():
  config = tf.estimator.RunConfig(save_checkpoints_steps=50, save_summary_steps=100)
  assert _auto_steps.step_cadences(config, (30,)) == (30, 50, 100)
  config = tf.estimator.RunConfig(save_checkpoints_secs=60, save_summary_steps=0)
  assert _auto_steps.step_cadences(config) == ()


@pytest.mark.parametrize('steps', [23, 100])
def test_auto_trains_the_weights_of_one_step_per_run_and_stops_exactly(
  small_data, tmp_path, large_k, steps
):
  weights = {}
  for name, params in (('one', dict(PARAMS, steps_per_run=1)), ('auto', PARAMS)):
    estimator = tfa.make_estimator(classifier_model_fn, params, tmp_path / name, seed=0)
    estimator.train(_input_fn(small_data), steps=steps)
    assert estimator.get_variable_value('global_step') == steps
    weights[name] = _weights(estimator)
    chosen = estimator.steps_per_run
  # Default RunConfig: summaries every 100 steps (checkpoints every 600 s): K divides 100.
  assert chosen == 50
  assert sorted(weights['one']) == sorted(weights['auto'])
  for name in weights['one']:
    np.testing.assert_allclose(
      weights['auto'][name], weights['one'][name], rtol=1e-6, atol=1e-7, err_msg=name
    )


def test_the_chosen_k_is_logged_once_and_in_the_params(small_data, tmp_path, large_k, caplog):
  estimator = tfa.make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  assert 'steps_per_run' not in estimator.params  # 'auto' itself: test_auto_is_the_default_...
  with caplog.at_level(logging.INFO, logger='tensorflow'):
    estimator.train(_input_fn(small_data), steps=5)
    estimator.train(_input_fn(small_data), steps=5)
  chosen = [r.getMessage() for r in caplog.records if "steps_per_run='auto'" in r.getMessage()]
  assert len(chosen) == 1
  assert chosen[0].startswith("steps_per_run='auto': 50 training steps per session.run")
  assert estimator.steps_per_run == 50 and estimator.params['steps_per_run'] == 50
  assert estimator.get_variable_value('global_step') == 10


def test_checkpoints_fall_on_their_steps(small_data, tmp_path, large_k):
  estimator = tfa.make_estimator(
    classifier_model_fn,
    PARAMS,
    tmp_path / 'm',
    seed=0,
    save_checkpoints_steps=6,
    save_summary_steps=12,
    keep_checkpoint_max=10,
  )
  estimator.train(_input_fn(small_data), steps=20)
  assert estimator.steps_per_run == 6
  saved = sorted(
    int(f[len('model.ckpt-') : -len('.index')])
    for f in os.listdir(tmp_path / 'm')
    if f.startswith('model.ckpt-') and f.endswith('.index')
  )
  assert saved == [0, 6, 12, 18, 20]  # TF's untrained ckpt-0 of a fresh model_dir, then each K.


def test_fit_chooses_k_dividing_its_evaluation_interval(small_data, tmp_path, large_k):
  estimator = tfa.make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  history = tfa.fit(
    estimator,
    _input_fn(small_data),
    max_steps=24,
    eval_input_fn=numpy_input_fn(*small_data, batch_size=32, num_epochs=1, shuffle=False),
    eval_every_steps=12,
    progress=False,
  )
  assert history.steps_per_run == estimator.steps_per_run == 4  # Divides 12 and 100.
  assert history.eval['step'].tolist() == [12, 24]


@pytest.mark.parametrize(
  'params, expected',
  [
    (dict(PARAMS, steps_per_run=1), (None, 1)),
    (dict(PARAMS, steps_per_run=3), (None, 3)),
    (dict(PARAMS, steps_per_run='auto'), (50, 50)),
  ],
  ids=['one', 'three', 'auto_named'],
)
def test_an_explicit_steps_per_run_is_kept(small_data, tmp_path, large_k, params, expected):
  estimator = tfa.make_estimator(classifier_model_fn, params, tmp_path / 'm', seed=0)
  estimator.train(_input_fn(small_data), steps=7)
  assert (estimator.steps_per_run, estimator.params['steps_per_run']) == expected
  assert estimator.get_variable_value('global_step') == 7


def test_an_input_fn_yielding_no_groups_trains_one_step_per_run(small_data, tmp_path, large_k):
  def network_fn(features):
    return tf.keras.layers.Dense(3)(tf.stack([features[k] for k in KEYS], axis=1))

  model_fn = make_model_fn(network_fn, 'multi_class', n_classes=3)
  estimator = tfa.make_estimator(model_fn, {}, tmp_path / 'm', seed=0)
  estimator.train(boring_input_fn(*small_data), steps=5)  # A Dataset of single batches.
  assert estimator.params['steps_per_run'] == 1
  assert estimator.steps_per_run == 'auto'  # Still to choose, for an input that groups.
  estimator.train(_input_fn(small_data), steps=5)
  assert estimator.steps_per_run == 50
  assert estimator.get_variable_value('global_step') == 10


def test_a_model_fn_of_ones_own_gets_no_steps_per_run(small_data, tmp_path):
  from conftest import boring_model_fn

  estimator = tfa.make_estimator(boring_model_fn, {}, tmp_path / 'm', seed=0)
  estimator.train(boring_input_fn(*small_data), steps=3)
  assert estimator.steps_per_run is None and 'steps_per_run' not in estimator.params


def test_a_plain_tf_estimator_keeps_one_step_per_run(small_data, tmp_path):
  estimator = tf.estimator.Estimator(
    classifier_model_fn, str(tmp_path / 'm'), params=dict(PARAMS, steps_per_run='auto')
  )
  estimator.train(_input_fn(small_data), steps=5)  # Single batches: 'auto' is 1 here.
  assert estimator.get_variable_value('global_step') == 5


def test_a_cluster_task_trains_one_step_per_run(small_data, tmp_path, monkeypatch):
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      {
        'cluster': {'chief': ['localhost:2222'], 'worker': ['localhost:2223']},
        'task': {'type': 'chief', 'index': 0},
      }
    ),
  )
  estimator = tfa.make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  assert estimator.resolve_steps_per_run(_input_fn(small_data)) == 1
  assert estimator.steps_per_run == 'auto' and estimator.params['steps_per_run'] == 1


def test_a_network_the_loop_refuses_trains_one_step_per_run(small_data, tmp_path, caplog):
  def network_fn(features):  # A variable made from a tensor: refused in a loop of steps.
    x = tf.stack([features[k] for k in KEYS], axis=1)
    return tf.matmul(x, tf.Variable(tf.zeros([4, 3]), name='w'))

  model_fn = make_model_fn(network_fn, 'multi_class', n_classes=3)
  estimator = tfa.make_estimator(model_fn, {}, tmp_path / 'm', seed=0)
  with caplog.at_level(logging.WARNING, logger='tensorflow'):
    estimator.train(_input_fn(small_data), steps=3)
  assert "steps_per_run='auto': measuring a step failed (SpecError: steps_per_run: the " in (
    caplog.text
  )
  assert estimator.steps_per_run == estimator.params['steps_per_run'] == 1  # For good.
  assert estimator.get_variable_value('global_step') == 3


def _numeric_columns():
  return [tf.feature_column.numeric_column(k) for k in KEYS]


def _categorical_columns():
  vocabulary = tf.feature_column.categorical_column_with_vocabulary_list('kind', ['a', 'b'])
  return _numeric_columns() + [vocabulary]


@pytest.mark.parametrize(
  'template, params, expected',
  [
    ('classifier_model_fn', PARAMS, 'auto'),
    ('linear_classifier_model_fn', dict(feature_columns=_numeric_columns()), 'auto'),
    # The loop does not pay for a linear part with categorical columns (docs/templates.md).
    ('linear_classifier_model_fn', dict(feature_columns=_categorical_columns()), None),
    (
      'wide_deep_classifier_model_fn',
      dict(
        linear_feature_columns=_categorical_columns()[-1:],
        dnn_feature_columns=_numeric_columns(),
        dnn_hidden_units=[4],
      ),
      None,
    ),
    (
      'wide_deep_classifier_model_fn',
      dict(dnn_feature_columns=_numeric_columns(), dnn_hidden_units=[4]),
      'auto',
    ),
  ],
  ids=['dnn', 'linear_numeric', 'linear_categorical', 'wide_deep_categorical', 'deep_only'],
)
def test_auto_is_the_default_where_the_loop_pays(tmp_path, template, params, expected):
  estimator = tfa.make_estimator(getattr(tfa, template), params, tmp_path / 'm', seed=0)
  assert estimator.steps_per_run == expected


def test_auto_trains_a_linear_model_as_one_step_per_run(small_data, tmp_path, large_k):
  weights = {}
  for name, k in (('one', {'steps_per_run': 1}), ('auto', {})):
    params = dict(feature_columns=_numeric_columns(), n_classes=3, **k)
    estimator = tfa.make_estimator(tfa.linear_classifier_model_fn, params, tmp_path / name, seed=0)
    estimator.train(_input_fn(small_data), steps=23)
    assert estimator.get_variable_value('global_step') == 23
    weights[name] = _weights(estimator)
  assert estimator.steps_per_run == 50
  for name in weights['one']:
    np.testing.assert_allclose(weights['auto'][name], weights['one'][name], rtol=1e-6, err_msg=name)


def test_an_input_too_short_to_time_is_not_measured_again(small_data, tmp_path):
  # Two batches in all: the probe's group of 4 runs out before a timed run, so K stays 1.
  features, labels = small_data
  calls = []

  def input_fn(params):
    calls.append(params['steps_per_run'])
    short = numpy_input_fn(
      {k: v[:16] for k, v in features.items()}, labels[:16], batch_size=8, shuffle=False
    )
    return short(params=params)

  estimator = tfa.make_estimator(classifier_model_fn, PARAMS, tmp_path / 'm', seed=0)
  estimator.train(input_fn)
  first = len(calls)
  estimator.train(input_fn)
  assert estimator.params['steps_per_run'] == 1
  assert calls[first:] == [1]  # Only the training call: no grouping probe, no measurement.
