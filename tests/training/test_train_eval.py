"""train_and_evaluate: TF's own loop, explicit eval steps, throttle, BestExporter, traps."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.training import _train_eval

FEATURES, LABELS = small_arrays()
TRAIN = boring_input_fn(FEATURES, LABELS)
EVAL = boring_input_fn(FEATURES, LABELS, batch_size=8, repeat=False)
SAMPLE = {k: v[:2] for k, v in FEATURES.items()}


@pytest.fixture(scope='module')
def ran(tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp('te') / 'm')
  est = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=model_dir, seed=0, save_checkpoints_steps=10
  )
  metrics, exports = tfa.train_and_evaluate(est, TRAIN, EVAL, max_steps=20, sample_features=SAMPLE)
  return est, metrics, exports


def test_every_checkpoint_is_evaluated_and_the_last_metrics_returned(ran):
  est, metrics, _ = ran
  assert metrics['global_step'] == 20
  evals = tfa.read_history(est.model_dir).eval
  assert list(evals['step']) == [10, 20]
  # The whole eval set, not TF's default 100 batches nor a part of it.
  again = est.evaluate(EVAL)
  assert metrics['loss'] == pytest.approx(again['loss'], rel=1e-6)


def test_best_exporter_exports_a_servable_model(ran):
  est, _, exports = ran
  assert exports, 'the BestExporter exported nothing'
  for path in exports:
    assert path.startswith(os.path.join(est.model_dir, 'export', 'best_exporter'))
    assert os.path.exists(os.path.join(path, 'saved_model.pb'))
  with tfa.Predictor.from_saved_model(exports[-1]) as predictor:
    served = predictor(SAMPLE)
  expected = next(
    est.predict(
      lambda: tf.data.Dataset.from_tensor_slices(SAMPLE).batch(2), yield_single_examples=False
    )
  )
  np.testing.assert_allclose(served['probabilities'], expected['probabilities'], rtol=1e-6)


def test_specs_given_are_used_as_they_are(tmp_path):
  est = tfa.make_estimator(
    boring_model_fn, params={}, model_dir=tmp_path, seed=0, save_checkpoints_steps=100
  )
  metrics, exports = tfa.train_and_evaluate(
    est,
    tf.estimator.TrainSpec(TRAIN, max_steps=3),
    tf.estimator.EvalSpec(EVAL, steps=2, throttle_secs=0),
  )
  assert metrics['global_step'] == 3 and exports == []


@pytest.fixture(scope='module')
def untrained(tmp_path_factory):
  return tfa.make_estimator(
    boring_model_fn,
    params={},
    save_checkpoints_steps=10,
    model_dir=str(tmp_path_factory.mktemp('te_bad') / 'm'),
  )


@pytest.mark.parametrize(
  'args, kwargs, error, match',
  [
    (
      (tf.estimator.TrainSpec(TRAIN, max_steps=5), EVAL),
      dict(max_steps=5),
      exceptions.ArgumentError,
      'max_steps and train_hooks go into the TrainSpec',
    ),
    (
      (TRAIN, tf.estimator.EvalSpec(EVAL)),
      dict(max_steps=5, eval_steps=3),
      exceptions.ArgumentError,
      'eval_steps go into the EvalSpec when one is given',
    ),
    (
      (TRAIN, EVAL),
      dict(max_steps=5, throttle_secs=-1),
      exceptions.ArgumentError,
      'throttle_secs must be a non-negative int, given: -1',
    ),
    (
      (TRAIN, EVAL),
      dict(max_steps=5, exporters=['x']),
      exceptions.ArgumentTypeError,
      'exporters must be a list of tf.estimator.Exporter',
    ),
    (
      (TRAIN, 'eval'),
      dict(max_steps=5),
      exceptions.ArgumentTypeError,
      'eval_spec_or_input_fn must be a tf.estimator.EvalSpec or an input_fn',
    ),
    (
      (TRAIN, EVAL),
      dict(max_steps=5, sample_features=SAMPLE, feature_spec={}),
      exceptions.ArgumentError,
      'exactly one of sample_features and feature_spec',
    ),
  ],
)
def test_bad_arguments_are_refused_before_training(untrained, args, kwargs, error, match):
  with pytest.raises(error, match=match):
    tfa.train_and_evaluate(untrained, *args, **kwargs)
  assert not os.path.exists(untrained.model_dir) or not os.listdir(untrained.model_dir)


def test_a_config_without_checkpoints_is_refused(tmp_path):
  est = tfa.make_estimator(
    boring_model_fn,
    params={},
    model_dir=tmp_path,
    save_checkpoints_steps=None,
    save_checkpoints_secs=None,
  )
  with pytest.raises(
    exceptions.ArgumentError,
    match='train_and_evaluate evaluates each checkpoint, but the RunConfig saves none',
  ):
    tfa.train_and_evaluate(est, TRAIN, EVAL, max_steps=5)


def test_eval_spec_defaults_are_explicit(untrained):
  spec = _train_eval._eval_spec(
    untrained,
    untrained.config,
    EVAL,
    eval_steps=None,
    throttle_secs=None,
    start_delay_secs=0,
    sample_features=SAMPLE,
    feature_spec=None,
    parse_examples=False,
    exports_to_keep=2,
    exporters=None,
    eval_hooks=(),
    eval_name='holdout',
  )
  assert spec.steps is None  # The whole eval input; TF's EvalSpec would say 100.
  assert spec.throttle_secs == 0 and spec.start_delay_secs == 0
  (exporter,) = spec.exporters
  assert isinstance(exporter, tf.estimator.BestExporter)
  assert exporter.name == 'best_exporter' and spec.name == 'holdout'
  assert tf.estimator.EvalSpec(EVAL).steps == 100


def test_default_throttle_local_and_in_a_cluster(monkeypatch):
  local = tf.estimator.RunConfig(save_checkpoints_steps=10)
  assert _train_eval._default_throttle_secs(local) == 0
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      {
        'cluster': {'chief': ['127.0.0.1:1'], 'worker': ['127.0.0.1:2']},
        'task': {'type': 'evaluator', 'index': 0},
      }
    ),
  )
  by_steps = tf.estimator.RunConfig(save_checkpoints_steps=10)
  by_secs = tf.estimator.RunConfig(save_checkpoints_secs=30)
  assert _train_eval._default_throttle_secs(by_steps) == 10
  assert _train_eval._default_throttle_secs(by_secs) == 30
