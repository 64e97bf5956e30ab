"""The main job (`make demo`): trains, evaluates, predicts and exports Iris end to end."""

import io
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from tfest_adapters import demo


@pytest.fixture(scope='module')
def demo_result(tmp_path_factory):
  """The demo with its default steps and seed, as `make demo` runs it."""
  out = io.StringIO()
  model_dir = str(tmp_path_factory.mktemp('demo') / 'iris')
  result = demo.run(model_dir=model_dir, progress=False, out=out)
  return result, out.getvalue()


def test_demo_reaches_the_guide_accuracy(demo_result):
  result, text = demo_result
  assert result['accuracy'] >= 0.9
  assert re.search(r'Test set accuracy: 0\.9\d\d|Test set accuracy: 1\.000', text)


def test_demo_predicts_the_guide_examples(demo_result):
  result, text = demo_result
  assert result['predictions'] == ['Setosa', 'Versicolor', 'Virginica']
  for name in demo.GUIDE_EXPECTED:
    assert re.search(r'Prediction is "%s" \(\d+\.\d%%\), expected "%s"' % (name, name), text)
  assert all(0.34 < p <= 1.0 for p in result['probabilities'])


def test_demo_export_reproduces_the_estimator(demo_result):
  result, text = demo_result
  assert os.path.isfile(os.path.join(result['export_dir'], 'saved_model.pb'))
  assert result['export_max_abs_diff'] <= 1e-5
  assert 'same classes: True' in text


def test_demo_command_line_runs_and_prints_model_dir(tmp_path):
  model_dir = tmp_path / 'cli'
  proc = subprocess.run(
    [
      sys.executable,
      '-m',
      'tfest_adapters.demo',
      '--steps',
      '30',
      '--model-dir',
      str(model_dir),
      '--min-accuracy',
      '0',
      '--no-progress',
    ],
    cwd=str(tmp_path),
    capture_output=True,
    text=True,
    timeout=240,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'model_dir: %s' % model_dir in proc.stdout
  assert proc.stdout.count('Prediction is "') == 3
  assert (model_dir / 'checkpoint').is_file()


def test_demo_fails_below_min_accuracy(tmp_path, capsys):
  # One step cannot reach 99.9% on Iris: the job must say so and exit non-zero.
  code = demo.main(
    ['--steps', '1', '--model-dir', str(tmp_path / 'm'), '--min-accuracy', '0.999', '--no-progress']
  )
  assert code == 1
  assert 'is below --min-accuracy 1.00' in capsys.readouterr().err


def test_demo_refuses_non_positive_steps(capsys):
  with pytest.raises(SystemExit) as info:
    demo.main(['--steps', '0'])
  assert info.value.code == 2
  assert '--steps must be a positive int, given: 0' in capsys.readouterr().err


def test_shipped_split_is_fixed_and_stratified():
  train_x, train_y = demo.load_iris(REPO_ROOT / 'data' / 'iris_training.csv')
  test_x, test_y = demo.load_iris(REPO_ROOT / 'data' / 'iris_test.csv')
  assert len(train_y) == 120 and len(test_y) == 30
  assert sorted(train_x) == sorted(demo.FEATURE_KEYS)
  assert [int((test_y == c).sum()) for c in range(3)] == [10, 10, 10]
