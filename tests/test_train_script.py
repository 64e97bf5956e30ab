"""examples/train_script.py: the notebook's job as a plain script, run as a user runs it."""

import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / 'examples' / 'train_script.py'


@pytest.mark.slow
def test_train_script_trains_evaluates_exports_and_predicts(tmp_path):
  model_dir = tmp_path / 'iris'
  proc = subprocess.run(
    [
      sys.executable,
      str(SCRIPT),
      '--steps',
      '20',
      '--eval-every',
      '10',
      '--model-dir',
      str(model_dir),
      '--no-progress',
    ],
    capture_output=True,
    text=True,
    timeout=300,
    cwd=str(tmp_path),
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'model_dir: %s' % model_dir in proc.stdout
  metrics = proc.stdout.split('test metrics: ')[1].splitlines()[0]
  assert 'accuracy ' in metrics and 'global_step 20' in metrics
  assert proc.stdout.count('predicted class ') == 5
  history = pd.read_csv(model_dir / 'history.csv')
  assert list(history.dropna(subset=['eval_accuracy'])['step']) == [10, 20]
  # One loss per session.run: K steps per run ('auto'), K dividing the evaluation interval.
  loss_steps = history.dropna(subset=['loss'])['step'].tolist()
  k = loss_steps[0]
  assert 10 % k == 0 and loss_steps == list(range(k, 21, k))
  assert (model_dir / 'history.png').read_bytes()[:4] == b'\x89PNG'
  assert list((model_dir / 'export').glob('*/saved_model.pb'))
  assert 'tensorboard --logdir %s' % model_dir in proc.stdout
