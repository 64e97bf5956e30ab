"""examples/census.py and data/make_census.py: the census-like table and the three models on it."""

import importlib.util

import pandas as pd
import pytest

from conftest import DATA_DIR
from conftest import REPO_ROOT


def _load(path, name):
  spec = importlib.util.spec_from_file_location(name, str(path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_the_script_makes_the_shipped_table(tmp_path):
  make_census = _load(DATA_DIR / 'make_census.py', 'make_census')
  make_census.main(['--out', str(tmp_path)])
  for name in ('census_train.csv', 'census_test.csv'):
    assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), name
  train = pd.read_csv(DATA_DIR / 'census_train.csv')
  assert len(train) == 1600 and list(train.columns) == make_census.COLUMNS
  assert 0.1 < (train['income'] == '>50K').mean() < 0.4


@pytest.mark.slow  # It trains three models.
def test_example_trains_three_models_and_plots_their_histories(tmp_path, capsys):
  census = _load(REPO_ROOT / 'examples' / 'census.py', 'census_example')
  argv = ['--steps', '16', '--eval-every', '8', '--steps-per-run', '4', '--out', str(tmp_path)]
  histories = census.main(argv + ['--no-progress'])
  assert sorted(histories) == ['dnn', 'linear', 'wide_deep']
  for name, history in histories.items():
    assert list(history.eval['step']) == [8, 16], name
    assert 0 <= history.eval['eval_auc'].iloc[-1] <= 1
  out = capsys.readouterr().out
  assert out.count(' step 16: loss ') == 3
  assert (tmp_path / 'histories.png').stat().st_size > 10000
  frame = pd.read_csv(tmp_path / 'histories.csv')
  assert sorted(frame['model'].unique()) == ['dnn', 'linear', 'wide_deep']
