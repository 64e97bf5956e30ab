"""Another model's checkpoint is refused wherever one is read (estimator/_compatibility.py).

TF restores a resource variable of another shape without a word, so an Estimator pointed at a
checkpoint of another model (other hidden units) evaluated, predicted and exported garbage.
Each entry point must refuse it with fit's message, before anything is written.
"""

import hashlib
import json
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from conftest import small_arrays
import tfest_adapters as tfa
from tfest_adapters import exceptions
from tfest_adapters import serving

FEATURES, LABELS = small_arrays()
SAMPLE = {k: v[:2] for k, v in FEATURES.items()}
PARAMS = dict(feature_keys=sorted(FEATURES), hidden_units=[4], n_classes=3)
OTHER = dict(PARAMS, hidden_units=[5])
STEPS = 6
MESSAGE = (
  r'model_dir .* holds a checkpoint of another model \(.*model\.ckpt-6\): 3 differ: '
  r'dnn/hiddenlayer_0/kernel: float32 \[4, 4\] in the checkpoint, float32 \[4, 5\] in the '
  r'model, .*Nothing was changed\. Train this model in a new model_dir'
)


def _estimator(model_dir, params):
  return tfa.make_estimator(tfa.classifier_model_fn, params, model_dir, seed=0)


def _train_fn():
  return tfa.numpy_input_fn(FEATURES, LABELS, batch_size=16, num_epochs=None, shuffle=False)


def _eval_fn():
  return tfa.numpy_input_fn(FEATURES, LABELS, batch_size=64, shuffle=False)


def _predict_fn():
  return tfa.numpy_input_fn(FEATURES, batch_size=64, shuffle=False)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  model_dir = tmp_path_factory.mktemp('compat') / 'hidden4'
  _estimator(model_dir, PARAMS).train(_train_fn(), max_steps=STEPS)
  return model_dir


def _snapshot(directory):
  """Every file under ``directory``: relative path -> (size, mtime_ns, sha1)."""
  files = {}
  for path in sorted(pathlib.Path(directory).rglob('*')):
    if path.is_file():
      files[str(path.relative_to(directory))] = (
        path.stat().st_size,
        path.stat().st_mtime_ns,
        hashlib.sha1(path.read_bytes()).hexdigest(),
      )
  return files


def _receiver_fn():
  return serving.build_serving_input_receiver_fn(sample_features=SAMPLE)


def _evaluator(estimator, export_base):
  del export_base
  return tfa.train_and_evaluate(estimator, _train_fn(), _eval_fn(), max_steps=STEPS, lock=False)


ENTRY_POINTS = {
  'evaluate': lambda e, base: e.evaluate(_eval_fn()),
  'evaluate_named_checkpoint': lambda e, base: e.evaluate(
    _eval_fn(), checkpoint_path=e.latest_checkpoint(), name='test'
  ),
  'predict': lambda e, base: list(e.predict(_predict_fn())),
  'predict_batches': lambda e, base: next(e.predict(_predict_fn(), yield_single_examples=False)),
  'Estimator.export_saved_model': lambda e, base: e.export_saved_model(str(base), _receiver_fn()),
  'Estimator.experimental_export_all_saved_models': (
    lambda e, base: e.experimental_export_all_saved_models(
      str(base), {tf.estimator.ModeKeys.PREDICT: _receiver_fn()}
    )
  ),
  'export_saved_model': lambda e, base: tfa.export_saved_model(e, base, sample_features=SAMPLE),
  'Predictor.from_estimator': lambda e, base: tfa.Predictor.from_estimator(
    e, SAMPLE, export_dir_base=base
  ),
  'Predictor.from_estimator_temporary': lambda e, base: tfa.Predictor.from_estimator(e, SAMPLE),
}


@pytest.mark.parametrize('entry', sorted(ENTRY_POINTS))
def test_another_models_checkpoint_is_refused_before_anything_is_written(trained, tmp_path, entry):
  model_dir = tmp_path / 'm'
  shutil.copytree(trained, model_dir)
  export_base = tmp_path / 'export'
  export_base.mkdir()
  before = _snapshot(model_dir)
  estimator = _estimator(model_dir, OTHER)
  with pytest.raises(exceptions.ModelDirError, match=MESSAGE):
    ENTRY_POINTS[entry](estimator, export_base)
  assert _snapshot(model_dir) == before  # No eval/ folder, no event file, no checkpoint.
  assert not list(export_base.iterdir())  # Nor TF's temp- export directory.


def test_the_evaluator_of_train_and_evaluate_refuses_it(trained, tmp_path, monkeypatch):
  """A cluster's evaluator only reads checkpoints: it must refuse one of another model."""
  model_dir = tmp_path / 'm'
  shutil.copytree(trained, model_dir)
  before = _snapshot(model_dir)
  monkeypatch.setenv(
    'TF_CONFIG',
    json.dumps(
      {'cluster': {'chief': ['localhost:2222']}, 'task': {'type': 'evaluator', 'index': 0}}
    ),
  )
  estimator = _estimator(model_dir, OTHER)
  assert estimator.config.task_type == 'evaluator'
  with pytest.raises(exceptions.ModelDirError, match=MESSAGE):
    _evaluator(estimator, None)
  assert _snapshot(model_dir) == before


def test_the_same_model_still_evaluates_predicts_and_exports(trained, tmp_path):
  model_dir = tmp_path / 'm'
  shutil.copytree(trained, model_dir)
  estimator = _estimator(model_dir, PARAMS)
  assert estimator.evaluate(_eval_fn())['global_step'] == STEPS
  assert (model_dir / 'eval').is_dir()
  predictions = next(estimator.predict(_predict_fn(), yield_single_examples=False))
  with tfa.Predictor.from_estimator(estimator, SAMPLE) as predictor:
    np.testing.assert_allclose(
      predictor(SAMPLE)['probabilities'], predictions['probabilities'][:2], rtol=1e-5
    )


def test_check_checkpoint_names_the_variables_that_differ(trained):
  """The shared check: the graph's variables against the checkpoint, with fit's message."""
  from tfest_adapters.estimator import check_checkpoint

  with tf.Graph().as_default():
    tf.compat.v1.get_variable('dnn/hiddenlayer_0/kernel', [4, 5])
    tf.compat.v1.get_variable('dnn/hiddenlayer_0/bias', [4])
    with pytest.raises(exceptions.ModelDirError) as info:
      check_checkpoint(str(trained))
  assert 'model_dir %s holds a checkpoint of another model' % trained in str(info.value)
  # The bias has the checkpoint's shape: only the kernel differs.
  assert '1 differ: dnn/hiddenlayer_0/kernel: float32 [4, 4] in the checkpoint' in str(info.value)
  with tf.Graph().as_default():
    tf.compat.v1.get_variable('dnn/hiddenlayer_0/kernel', [4, 4])
    tf.compat.v1.get_variable('not/in/the/checkpoint', [2])
    with pytest.raises(
      exceptions.ModelDirError,
      match=r'it lacks 1 variable\(s\) of this model: '
      r'not/in/the/checkpoint \[2\]',
    ):
      check_checkpoint(str(trained))
    check_checkpoint(str(trained), variables=tf.compat.v1.global_variables()[:1])  # Passes.


def test_a_refused_export_leaves_no_export_base_it_made(trained, tmp_path):
  model_dir = tmp_path / 'm'
  shutil.copytree(trained, model_dir)
  export_base = tmp_path / 'new' / 'export'
  with pytest.raises(exceptions.ModelDirError, match=MESSAGE):
    _estimator(model_dir, OTHER).export_saved_model(str(export_base), _receiver_fn())
  assert not export_base.exists()
