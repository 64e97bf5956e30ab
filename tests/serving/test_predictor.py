"""Predictor: outputs equal Estimator.predict; inputs checked by key, dtype and shape."""

import importlib.util
import os
import threading

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import REPO_ROOT
from conftest import boring_input_fn
from conftest import boring_model_fn
from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters.serving import _export
from tfest_adapters.serving import _receivers

FEATURES, LABELS = small_arrays()
ROWS = {k: v[:7] for k, v in FEATURES.items()}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  base = tmp_path_factory.mktemp('predictor')
  est = tfa.make_estimator(boring_model_fn, params={}, seed=0, model_dir=str(base / 'm'))
  est.train(boring_input_fn(FEATURES, LABELS), steps=10)
  export_dir = tfa.export_saved_model(
    est, str(base / 'export'), sample_features={k: v[:2] for k, v in FEATURES.items()}
  )
  return est, export_dir


@pytest.fixture(scope='module')
def predictor(trained):
  with tfa.Predictor.from_saved_model(trained[1]) as loaded:
    yield loaded


def _estimator_predict(est, features):
  return _export.estimator_predictions(est, features)


def test_outputs_equal_estimator_predict(trained, predictor):
  est, _ = trained
  expected = _estimator_predict(est, ROWS)
  served = predictor.predict(ROWS)
  assert sorted(served) == sorted(expected) == ['class_ids', 'logits', 'probabilities']
  for key in expected:
    assert served[key].shape == expected[key].shape
    assert served[key].dtype == expected[key].dtype
    np.testing.assert_allclose(served[key], expected[key], rtol=1e-6)


def test_dataframes_lists_and_castable_numbers_are_accepted(predictor):
  expected = predictor(ROWS)
  frame = pd.DataFrame(dict(ROWS, label=np.arange(7)))  # Extra columns are ignored.
  np.testing.assert_array_equal(predictor(frame)['logits'], expected['logits'])
  as_lists = {k: v.tolist() for k, v in ROWS.items()}  # float64 lists, cast to float32.
  np.testing.assert_allclose(predictor(as_lists)['logits'], expected['logits'], rtol=1e-6)
  ints = {k: np.arange(3) for k in ROWS}
  assert predictor(ints)['probabilities'].shape == (3, 3)


def test_a_single_example_without_batch_dimension(predictor):
  one = {k: float(v[0]) for k, v in ROWS.items()}
  out = predictor(one)
  assert out['probabilities'].shape == (3,) and out['class_ids'].shape == (1,)
  np.testing.assert_allclose(out['probabilities'], predictor(ROWS)['probabilities'][0], rtol=1e-6)


def test_batch_size_splits_the_calls(predictor):
  whole = predictor(ROWS)
  split = predictor.predict(ROWS, batch_size=3)
  for key in whole:  # MatMul kernels round differently by batch size: float32 tolerance.
    assert split[key].shape == whole[key].shape
    np.testing.assert_allclose(split[key], whole[key], rtol=1e-6, atol=1e-7)


def test_describes_its_inputs_and_outputs(predictor, trained):
  assert predictor.input_keys == ('f0', 'f1', 'f2', 'f3')
  assert predictor.input_spec['f0'] == ('float32', (None,))
  assert predictor.output_keys == ('class_ids', 'logits', 'probabilities')
  assert predictor.signature_key == 'serving_default'
  assert predictor.export_dir == trained[1]
  assert "signature='serving_default'" in repr(predictor)


@pytest.mark.parametrize(
  'features, error, match',
  [
    (
      {k: v for k, v in ROWS.items() if k != 'f2'},
      exceptions.ArgumentKeyError,
      "features is missing 'f2'; the model expects keys: 'f0', 'f1', 'f2', 'f3'; given keys: "
      "'f0', 'f1', 'f3'",
    ),
    (
      dict(ROWS, f1=np.array(['a'] * 7)),
      exceptions.ArgumentError,
      r"features\['f1'\] must be float32 \(or numbers that cast to it\), given dtype <U1",
    ),
    (
      dict(ROWS, f1=ROWS['f1'][:, None]),
      exceptions.ArgumentError,
      r"features\['f1'\] must have shape \(n,\) \(n rows\), given shape \(7, 1\)",
    ),
    (
      dict(ROWS, f3=ROWS['f3'][:5]),
      exceptions.ArgumentError,
      "features must all have the same number of rows, given 7 for 'f0', 7 for 'f1', 7 for "
      "'f2', 5 for 'f3'",
    ),
    (dict(ROWS, f0=1.0), exceptions.ArgumentError, 'features mix single examples and batches'),
    (
      [1.0, 2.0],
      exceptions.ArgumentTypeError,
      r'features must be a dict of arrays \(feature name -> values\) or a pandas DataFrame',
    ),
  ],
)
def test_bad_features_are_named(predictor, features, error, match):
  with pytest.raises(error, match=match):
    predictor(features)


def test_parsing_export_takes_raw_features_or_serialized_examples(trained, tmp_path):
  est, _ = trained
  path = tfa.export_saved_model(est, tmp_path, sample_features=ROWS, parse_examples=True)
  with tfa.Predictor.from_saved_model(path) as parsing:
    assert parsing.input_keys == ('f0', 'f1', 'f2', 'f3')
    assert parsing.input_spec == {'examples': ('string', (None,))}
    expected = _estimator_predict(est, ROWS)
    np.testing.assert_allclose(parsing(ROWS)['probabilities'], expected['probabilities'], rtol=1e-6)
    spec = {k: tf.io.FixedLenFeature([], tf.float32) for k in ROWS}
    serialized = _receivers.serialize_examples(ROWS, spec)
    np.testing.assert_allclose(
      parsing({'examples': serialized})['probabilities'], expected['probabilities'], rtol=1e-6
    )
    with pytest.raises(exceptions.ArgumentKeyError, match="features is missing feature 'f3'"):
      parsing({k: v for k, v in ROWS.items() if k != 'f3'})


def test_from_estimator_exports_to_a_temporary_dir_removed_on_close(trained):
  est, _ = trained
  predictor = tfa.Predictor.from_estimator(est, sample_features=ROWS)
  base = os.path.dirname(predictor.export_dir)
  assert os.path.isdir(base)
  np.testing.assert_allclose(
    predictor(ROWS)['logits'], _estimator_predict(est, ROWS)['logits'], rtol=1e-6
  )
  predictor.close()
  assert not os.path.exists(base)
  with pytest.raises(exceptions.TfestError, match='This Predictor is closed'):
    predictor(ROWS)


def test_from_saved_model_on_an_export_base_loads_the_newest(trained):
  _, export_dir = trained
  with tfa.Predictor.from_saved_model(os.path.dirname(export_dir)) as loaded:
    assert loaded.export_dir == export_dir


@pytest.mark.parametrize(
  'where, signature_key, error, match',
  [
    (
      'empty_dir',
      None,
      exceptions.ArgumentError,
      r'path must be a SavedModel directory \(holding saved_model.pb\)',
    ),
    (
      'export',
      'classify',
      exceptions.ArgumentKeyError,
      r'signature_key must be one of the signatures of .* \(serving_default\), given: '
      r"'classify'",
    ),
  ],
)
def test_bad_paths_and_signatures(trained, tmp_path, where, signature_key, error, match):
  path = {'empty_dir': tmp_path, 'export': trained[1]}[where]
  with pytest.raises(error, match=match):
    tfa.Predictor.from_saved_model(path, signature_key=signature_key)


def test_safe_to_call_from_threads(predictor):
  expected = predictor(ROWS)['logits']
  results = []

  def work():
    for _ in range(20):
      results.append(np.array_equal(predictor(ROWS)['logits'], expected))

  threads = [threading.Thread(target=work) for _ in range(4)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert len(results) == 80 and all(results)


def test_bench_predict_latency_quick_runs(capsys):
  spec = importlib.util.spec_from_file_location(
    'predict_latency', REPO_ROOT / 'bench' / 'predict_latency.py'
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  figures = module.main(['--quick', '--rounds', '1'])
  assert figures['max_abs_diff_to_estimator'] < 1e-5
  for key in ('estimator_over_predictor_1row', 'predictor_over_raw_throughput_1024'):
    assert figures[key] > 0
  assert 'Estimator.predict / Predictor, one row' in capsys.readouterr().out
