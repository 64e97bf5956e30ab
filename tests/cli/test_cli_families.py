"""`tfest train --model linear|wide_deep` on the shipped census-like CSV, and their refusals.

The three model families train on data/census_train.csv (string categories, class names as
labels) with the schema inferred, in groups of steps, once per module; evaluate, predict and
export reuse each model_dir, and so does the refusal of another family in the linear one; the
run record says which family and crosses it holds.
"""

import contextlib
import io
import json

import pandas as pd
import pytest

from conftest import DATA_DIR
from tfest_adapters import __main__ as tfest_main

TRAIN_CSV = DATA_DIR / 'census_train.csv'
TEST_CSV = DATA_DIR / 'census_test.csv'


def _main(argv):
  return tfest_main.main([str(a) for a in argv])


def _train_argv(model_dir, *extra):
  return [
    'train',
    '--train',
    TRAIN_CSV,
    '--eval',
    TEST_CSV,
    '--label',
    'income',
    '--model-dir',
    model_dir,
    '--steps',
    40,
    '--steps-per-run',
    8,
    '--seed',
    0,
    '--no-progress',
  ] + list(extra)


# family -> (its train flags, how train describes the model).
FAMILIES = {
  'dnn': ((), 'a classifier with hidden units 10,10 on features age, workclass'),
  'linear': (
    ('--model', 'linear', '--cross', 'education,occupation'),
    'a linear classifier on features age, workclass',
  ),
  'wide_deep': (
    ('--model', 'wide_deep', '--cross', 'education,occupation', '--cross', 'sex,workclass'),
    'a wide-and-deep classifier with hidden units 10,10 on features age',
  ),
}


@pytest.fixture(scope='module')
def trained_family(tmp_path_factory):
  """family -> (exit status, model_dir, stdout) of its `tfest train`, run once per module."""
  trained = {}

  def train(family):
    if family not in trained:
      model_dir = tmp_path_factory.mktemp('families') / family
      out = io.StringIO()
      with contextlib.redirect_stdout(out):
        code = _main(_train_argv(model_dir, *FAMILIES[family][0]))
      trained[family] = code, model_dir, out.getvalue()
    return trained[family]

  return train


@pytest.mark.slow
@pytest.mark.parametrize('family', list(FAMILIES))
def test_each_family_trains_evaluates_predicts_and_exports(
  family, trained_family, tmp_path, capsys
):
  extra, description = FAMILIES[family]
  code, model_dir, out = trained_family(family)
  assert code == 0
  assert description in out
  assert '2 numeric, 5 categorical' in out  # The schema is inferred.
  record = json.loads((model_dir / 'tfest.json').read_text())
  assert record['family'] == family
  assert record['crosses'] == [x.split(',') for x in extra[3::2]]
  assert _main(['evaluate', '--model-dir', model_dir, '--eval', TEST_CSV]) == 0
  assert 'accuracy' in capsys.readouterr().out
  output = tmp_path / 'predictions.csv'
  argv = ['predict', '--model-dir', model_dir, '--input', TEST_CSV, '--output', output]
  assert _main(argv) == 0
  predictions = pd.read_csv(output)
  assert list(predictions.columns) == ['class', 'probability_<=50K', 'probability_>50K']
  assert len(predictions) == 400 and set(predictions['class']) <= {'<=50K', '>50K'}
  assert _main(['export', '--model-dir', model_dir]) == 0
  assert 'Exported %s to ' % model_dir in capsys.readouterr().out


@pytest.mark.slow
def test_linear_regressor_on_a_numeric_label(tmp_path, capsys):
  argv = _train_argv(tmp_path / 'm', '--model', 'linear_regressor')
  argv[argv.index('income')] = 'hours_per_week'
  assert _main(argv) == 0
  assert 'a linear regressor on features age' in capsys.readouterr().out


@pytest.mark.parametrize(
  'extra, expected',
  [
    (
      ('--model', 'linear', '--hidden-units', '5'),
      '--hidden-units must be left out for --model linear, which has no hidden layers, '
      'given: 5; use --model classifier, regressor, wide_deep, wide_deep_regressor',
    ),
    (
      ('--model', 'linear', '--dropout', '0.1'),
      '--dropout must be left out for --model linear',
    ),
    (
      ('--cross', 'education,occupation'),
      '--cross needs a linear part, given: --cross education,occupation with --model classifier',
    ),
    (
      ('--model', 'wide_deep', '--cross', 'age,education'),
      "--cross must name categorical columns, given: 'age' in --cross age,education; the "
      "categorical columns are: 'workclass', 'education', 'occupation', 'marital_status', "
      "'sex' (a numeric column becomes categorical with --categorical age)",
    ),
    (
      ('--model', 'linear', '--cross', 'sex,sex'),
      '--cross must name two or more distinct columns, given: --cross sex,sex',
    ),
    (
      ('--model', 'linear_regressor', '--n-classes', '2'),
      '--n-classes must be left out for --model linear_regressor, given: 2',
    ),
  ],
  ids=['hidden_units', 'dropout', 'cross_dnn', 'cross_numeric', 'cross_one', 'n_classes'],
)
def test_family_flags_are_refused_in_one_line(extra, expected, tmp_path, capsys):
  code = _main(_train_argv(tmp_path / 'm', *extra))
  err = capsys.readouterr().err.strip().splitlines()
  assert code != 0 and len(err) == 1, err
  assert err[0].startswith('tfest: error: ' + expected), err[0]
  assert not (tmp_path / 'm').exists()


@pytest.mark.slow
def test_another_family_in_the_model_dir_is_refused(trained_family, capsys):
  code, model_dir, _ = trained_family('linear')
  assert code == 0
  assert _main(_train_argv(model_dir, '--model', 'wide_deep')) != 0
  err = capsys.readouterr().err
  assert 'already holds a linear classifier' in err
  assert 'trained with --model linear, given: --model wide_deep' in err
