"""The ``tfest`` command line (tfest_adapters/__main__.py, tfest_adapters/cli/).

Each subcommand runs in a subprocess on the shipped Iris data, as a user runs it; one
module-scoped model_dir trained once is reused by evaluate, predict and export. Error paths run
in-process (most end before TensorFlow is imported): each checks the one-line message on
stderr, the exit status, and that the model_dir's files are byte for byte what they were.
"""

import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import DATA_DIR
from conftest import IRIS_FEATURES
from conftest import IRIS_LABEL
from tfest_adapters import __main__ as tfest_main
from tfest_adapters import exceptions

TRAIN_CSV = str(DATA_DIR / 'iris_training.csv')
TEST_CSV = str(DATA_DIR / 'iris_test.csv')
STEPS = 30


def _tfest(*args, cwd=None, timeout=300):
  """Runs ``python -m tfest_adapters *args`` in a subprocess."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  return subprocess.run(
    [sys.executable, '-m', 'tfest_adapters'] + [str(a) for a in args],
    capture_output=True,
    text=True,
    timeout=timeout,
    cwd=cwd,
    env=env,
  )


def _snapshot(directory):
  """Every file under ``directory``: relative path -> (size, mtime_ns, sha1)."""
  files = {}
  for path in sorted(pathlib.Path(directory).rglob('*')):
    if path.is_file():
      stat = path.stat()
      files[str(path.relative_to(directory))] = (
        stat.st_size,
        stat.st_mtime_ns,
        hashlib.sha1(path.read_bytes()).hexdigest(),
      )
  return files


def _main(argv):
  """Runs tfest in-process (argv items may be paths)."""
  return tfest_main.main([str(a) for a in argv])


def _error(capsys, argv):
  """Runs tfest in-process on input it must refuse; returns (exit status, the stderr line)."""
  try:
    code = _main([str(a) for a in argv])
  except SystemExit as e:  # argparse's own errors
    code = e.code
  captured = capsys.readouterr()
  lines = captured.err.strip().splitlines()
  assert len(lines) == 1, captured.err
  assert lines[0].startswith('tfest: error: '), lines[0]
  assert 'Traceback' not in captured.err
  return code, lines[0]


# The trained model_dir shared by the tests below.


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """`tfest train` on Iris, in a subprocess: (model_dir, CompletedProcess)."""
  model_dir = tmp_path_factory.mktemp('cli') / 'iris'
  proc = _tfest(
    'train',
    '--train',
    TRAIN_CSV,
    '--eval',
    TEST_CSV,
    '--label',
    IRIS_LABEL,
    '--model',
    'classifier',
    '--hidden-units',
    '10,10',
    '--steps',
    STEPS,
    '--batch-size',
    32,
    '--model-dir',
    model_dir,
    '--seed',
    0,
    '--learning-rate',
    0.1,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return model_dir, proc


@pytest.fixture(scope='module')
def exported(trained):
  """`tfest export` of the trained model_dir: (SavedModel path, CompletedProcess)."""
  model_dir, _ = trained
  proc = _tfest('export', '--model-dir', model_dir)
  assert proc.returncode == 0, proc.stderr[-3000:]
  path = proc.stdout.split('Exported %s to ' % model_dir)[1].splitlines()[0].strip()
  return path, proc


@pytest.fixture(scope='module')
def predictions(trained):
  """`tfest predict --model-dir ... --output` on the Iris test rows: the predictions frame."""
  model_dir, _ = trained
  output = model_dir.parent / 'predictions.csv'
  proc = _tfest('predict', '--model-dir', model_dir, '--input', TEST_CSV, '--output', output)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'Wrote 30 predictions to %s' % output in proc.stdout
  return pd.read_csv(output)


def _metrics(stdout):
  """The metric lines '  name  value' that train and evaluate print."""
  metrics = {}
  for line in stdout.splitlines():
    parts = line.split()
    if line.startswith('  ') and len(parts) == 2:
      metrics[parts[0]] = float(parts[1])
  return metrics


@pytest.mark.slow
def test_train_without_matplotlib_writes_the_history_csv_only(tmp_path, capsys, monkeypatch):
  # matplotlib is the plot extra: a plain `pip install tfest-adapters` has no plot to draw.
  monkeypatch.setitem(sys.modules, 'matplotlib', None)
  monkeypatch.setitem(sys.modules, 'matplotlib.figure', None)
  model_dir = tmp_path / 'm'
  argv = ['train', '--train', TRAIN_CSV, '--label', 'Species', '--model-dir', model_dir]
  assert _main(argv + ['--steps', '2', '--no-progress']) == 0
  out = capsys.readouterr().out
  assert (
    'Wrote %s (no plot: pip install "tfest-adapters[plot]" for history.png)'
    % (model_dir / 'history.csv')
    in out
  )
  assert (model_dir / 'history.csv').is_file() and not (model_dir / 'history.png').exists()


def test_train_writes_checkpoint_history_plot_and_record(trained):
  model_dir, proc = trained
  assert (model_dir / 'checkpoint').is_file()
  assert (
    'Training %s: a classifier with hidden units 10,10 on features %s and 3 classes'
    % (model_dir, ', '.join(IRIS_FEATURES))
    in proc.stdout
  )
  assert '4 numeric (120 training rows from %s)' % TRAIN_CSV in proc.stdout
  metrics = _metrics(proc.stdout)
  assert metrics['global_step'] == STEPS
  assert 0.0 <= metrics['accuracy'] <= 1.0 and metrics['loss'] > 0
  history = pd.read_csv(model_dir / 'history.csv')
  assert {'step', 'loss'} <= set(history.columns)
  assert history['step'].max() == STEPS
  assert (model_dir / 'history.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  record = json.loads((model_dir / 'tfest.json').read_text())
  assert record['model'] == 'classifier' and record['hidden_units'] == [10, 10]
  assert [f['name'] for f in record['schema']['features']] == list(IRIS_FEATURES)
  assert {f['kind'] for f in record['schema']['features']} == {'numeric'}
  assert record['schema']['label'] == {'name': 'Species', 'kind': 'class_ids', 'n_classes': 3}
  assert record['options'] == {'learning_rate': 0.1}
  train = pd.read_csv(TRAIN_CSV)
  first = record['schema']['features'][0]
  assert first['mean'] == pytest.approx(train[first['name']].mean(), rel=1e-6)
  assert first['std'] == pytest.approx(train[first['name']].std(ddof=0), rel=1e-6)
  assert 'tensorboard --logdir %s' % model_dir in proc.stdout
  assert proc.stderr == ''  # No TensorFlow log lines; no progress bar outside a terminal.


@pytest.mark.slow
def test_evaluate_reproduces_the_final_evaluation_of_train(trained):
  model_dir, train_proc = trained
  before = _snapshot(model_dir)
  proc = _tfest('evaluate', '--model-dir', model_dir, '--eval', TEST_CSV, '--json')
  assert proc.returncode == 0, proc.stderr[-3000:]
  metrics = json.loads(proc.stdout)
  assert proc.stderr == ''
  assert metrics['global_step'] == STEPS
  trained_metrics = _metrics(train_proc.stdout)
  for key in ('accuracy', 'average_loss', 'loss'):
    assert metrics[key] == pytest.approx(trained_metrics[key], rel=1e-5), key
  # Evaluation writes its events under eval/; the checkpoint itself is untouched.
  after = _snapshot(model_dir)
  assert {k: v for k, v in after.items() if not k.startswith('eval')} == {
    k: v for k, v in before.items() if not k.startswith('eval')
  }


@pytest.mark.slow
def test_predict_model_dir_writes_one_row_per_input(predictions):
  assert list(predictions.columns) == ['class', 'probability_0', 'probability_1', 'probability_2']
  assert len(predictions) == 30
  probabilities = predictions[['probability_0', 'probability_1', 'probability_2']].to_numpy()
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
  np.testing.assert_array_equal(predictions['class'], probabilities.argmax(axis=1))


@pytest.mark.slow
def test_export_writes_a_saved_model_with_its_record(trained, exported):
  model_dir, _ = trained
  path, proc = exported
  assert pathlib.Path(path).parent == model_dir / 'export'
  assert (pathlib.Path(path) / 'saved_model.pb').is_file()
  copied = json.loads((pathlib.Path(path) / 'assets.extra' / 'tfest.json').read_text())
  assert copied == json.loads((model_dir / 'tfest.json').read_text())
  assert 'tfest predict --saved-model %s' % path in proc.stdout


@pytest.mark.slow
def test_predict_saved_model_matches_model_dir(exported, predictions, capsys):
  # In-process (the subcommands above already run as subprocesses): saves a TF import.
  path, _ = exported
  assert _main(['predict', '--saved-model', path, '--input', TEST_CSV]) == 0
  served = pd.read_csv(io.StringIO(capsys.readouterr().out))
  assert list(served.columns) == list(predictions.columns)
  np.testing.assert_array_equal(served['class'], predictions['class'])
  np.testing.assert_allclose(
    served.drop(columns='class').to_numpy(), predictions.drop(columns='class').to_numpy(), atol=1e-5
  )


def test_help_on_every_subcommand(capsys):
  for command, flags in [
    (
      'train',
      [
        '--train',
        '--label',
        '--eval',
        '--model-dir',
        '--model',
        '--hidden-units',
        '--steps',
        '--batch-size',
        '--seed',
        '--steps-per-run',
      ],
    ),
    ('evaluate', ['--model-dir', '--eval']),
    ('predict', ['--model-dir', '--saved-model', '--input', '--output']),
    ('export', ['--model-dir', '--export-dir']),
  ]:
    with pytest.raises(SystemExit) as info:
      _main([command, '--help'])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith('usage: tfest %s' % command)
    for flag in flags:
      assert flag in text, (command, flag)
  with pytest.raises(SystemExit) as info:
    _main(['--help'])
  assert info.value.code == 0
  text = capsys.readouterr().out
  assert all(c in text for c in ('train', 'evaluate', 'predict', 'export'))


def test_version_is_the_package_version(capsys):
  import tfest_adapters

  with pytest.raises(SystemExit) as info:
    _main(['--version'])
  assert info.value.code == 0
  assert capsys.readouterr().out == 'tfest %s\n' % tfest_adapters.__version__


def test_console_script_and_module_both_run():
  script = pathlib.Path(sys.executable).with_name('tfest')
  assert script.is_file(), 'the tfest console script is not installed: pip install -e .'
  proc = subprocess.run(
    [str(script), 'train', '--help'], capture_output=True, text=True, timeout=120
  )
  assert proc.returncode == 0 and proc.stdout.startswith('usage: tfest train')


def test_bad_input_in_a_subprocess_is_one_line_before_tensorflow(tmp_path):
  # The real entry point, as a user runs it: exit status 2, one line, and TensorFlow never
  # imported (so no graph was built, and nothing can have touched a model_dir).
  code = (
    'import sys\n'
    'from tfest_adapters.__main__ import main\n'
    'status = main(sys.argv[1:])\n'
    'assert "tensorflow" not in sys.modules, "TensorFlow was imported"\n'
    'sys.exit(status)\n'
  )
  proc = subprocess.run(
    [
      sys.executable,
      '-c',
      code,
      'train',
      '--train',
      TRAIN_CSV,
      '--label',
      'species',
      '--model-dir',
      tmp_path / 'm',
    ],
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr == (
    "tfest: error: --label must be a column of --train %s, given: 'species' (did you mean "
    "'Species'?); its columns are: 'SepalLength', 'SepalWidth', 'PetalLength', "
    "'PetalWidth', 'Species'\n" % TRAIN_CSV
  )
  assert not (tmp_path / 'm').exists()


# Error paths, in-process. Each one names the argument, what was expected and what was given.


def _write(path, text):
  path.write_text(text)
  return path


def _text_file(name, text):
  """A maker of the file ``name`` holding ``text``: ``make(tmp_path) -> path``."""
  return lambda tmp_path: _write(tmp_path / name, text)


def _edited_csv(source, row, edit):
  """A maker of a copy of ``source`` whose line ``row`` (0: the header) goes through ``edit``."""

  def make(tmp_path):
    lines = pathlib.Path(source).read_text().splitlines()
    lines[row] = edit(lines[row])
    return _write(tmp_path / 'edited.csv', '\n'.join(lines) + '\n')

  return make


def _npz_file(**arrays):
  def make(tmp_path):
    np.savez(tmp_path / 'data.npz', **arrays)
    return tmp_path / 'data.npz'

  return make


def _assert_refused(capsys, argv, how, expected, **names):
  """Runs tfest on ``argv``, which it must refuse in one line with exit status 2.

  ``{name}`` fields of ``argv`` and ``expected`` are filled from ``names``. ``how``: '==' the
  whole line is ``expected``, 'end' the line ends with it, 'in' each fragment of ``expected``
  is in the line.
  """
  code, line = _error(capsys, [a.format(**names) for a in argv])
  assert code == 2
  if how == '==':
    assert line == expected.format(**names)
  elif how == 'end':
    assert line.endswith(expected.format(**names)), line
  else:
    for fragment in expected:
      assert fragment.format(**names) in line, line


def _train_argv(train, label, model_dir='{tmp}/m'):
  return ['train', '--train', train, '--label', label, '--model-dir', model_dir]


# Input refused before anything runs (exit status 2), model_dir never created. Rows: maker of
# the data file (None: no file), argv, how to match, expected; '{path}' is the file the maker
# wrote (or would have), '{tmp}' the test's tmp_path. Each message names the argument, what was
# expected and what was given.
_REFUSED_INPUT = [
  pytest.param(
    lambda tmp_path: tmp_path / 'nope.csv',
    _train_argv('{path}', 'y'),
    '==',
    'tfest: error: --train must be an existing file, given: {path!r} (no such file)',
    id='missing_train_file',
  ),
  pytest.param(
    _text_file('empty.csv', ''),
    _train_argv('{path}', 'y'),
    'in',
    ['a CSV file with a header line of column names, given: {path!r}, which is empty'],
    id='empty_csv',
  ),
  pytest.param(
    _text_file('header.csv', 'a,b,y\n'),
    _train_argv('{path}', 'y'),
    'end',
    '--train must hold at least one example, given: {path!r}, which has a header line but no rows',
    id='csv_with_a_header_and_no_rows',
  ),
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'Specie'),
    'in',
    [
      "--label must be a column of --train %s, given: 'Specie' (did you mean 'Species'?)"
      % TRAIN_CSV
    ],
    id='unknown_label_column_suggests_the_close_one',
  ),
  pytest.param(
    _edited_csv(TRAIN_CSV, 3, lambda line: 'abc,' + line.split(',', 1)[1]),
    _train_argv('{path}', 'Species'),
    'end',
    "--train {path} column 'SepalLength' looks numeric (119 of 120 values are numbers) but "
    "holds 'abc' at line 4; fix the value, or pass --categorical SepalLength to treat the "
    'column as categories',
    id='text_in_a_numeric_column_names_the_line',
  ),
  pytest.param(
    _edited_csv(TRAIN_CSV, 5, lambda line: ',' + line.split(',', 1)[1]),
    _train_argv('{path}', 'Species'),
    'end',
    "column 'SepalLength' must have a value on every row, given: an empty value at line 6; "
    'fill it in or drop the row',
    id='missing_value_in_a_numeric_column',
  ),
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'PetalWidth'),
    'in',
    [
      "label column 'PetalWidth' must hold class ids (ints 0 to n_classes - 1) or class "
      "names for --model classifier, given: '1.1' at line 2; use --model regressor"
    ],
    id='continuous_label_for_a_classifier',
  ),
  pytest.param(
    _text_file('ragged.csv', 'a,b,y\n1,2,0\n1,2,3,4\n'),
    _train_argv('{path}', 'y'),
    'in',
    ['--train must be a valid CSV file, given: {path!r}: Error tokenizing data'],
    id='ragged_csv',
  ),
  pytest.param(
    _text_file('data.json', '{}'),
    _train_argv('{path}', 'y'),
    'end',
    '--train must be a .csv, .npz or .tfrecord file, given: {path!r}; pass --format '
    'csv|npz|tfrecord to read a file with another extension',
    id='unknown_file_extension',
  ),
  pytest.param(
    _text_file('data.tfrecord', ''),
    _train_argv('{path}', 'y'),
    'in',
    ['is a TFRecord file: pass --feature-spec spec.json'],
    id='tfrecord_without_feature_spec',
  ),
  pytest.param(
    _npz_file(x=np.zeros(4), y=np.zeros(3)),
    _train_argv('{path}', 'y'),
    'end',
    'every array must have the same number of examples (first axis), given: x 4, y 3',
    id='npz_arrays_of_different_lengths',
  ),
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'Species') + ['--eval-every', '5'],
    'end',
    '--eval-every needs --eval, given: --eval-every 5 without --eval',
    id='eval_every_needs_eval',
  ),
  pytest.param(
    None,
    ['evaluate', '--model-dir', '{tmp}/nope', '--eval', TEST_CSV],
    'end',
    '--model-dir must be a model_dir trained by tfest train, given: {nope!r} (no such directory)',
    id='evaluate_without_a_model_dir',
  ),
  pytest.param(
    None,
    ['train', '--label', 'Species'],
    '==',
    'tfest: error: the following arguments are required: --train, --model-dir (see: tfest '
    'train --help)',
    id='missing_required_argument',
  ),
]


@pytest.mark.parametrize('make, argv, how, expected', _REFUSED_INPUT)
def test_input_is_refused_in_one_line(capsys, tmp_path, make, argv, how, expected):
  path = make(tmp_path) if make else None
  _assert_refused(
    capsys, argv, how, expected, path=str(path), tmp=str(tmp_path), nope=str(tmp_path / 'nope')
  )
  assert not (tmp_path / 'm').exists()


@pytest.mark.parametrize(
  'flag, value, message',
  [
    ('--steps', '0', "--steps must be a positive int, given: '0'"),
    ('--batch-size', '-3', "--batch-size must be a positive int, given: '-3'"),
    (
      '--hidden-units',
      '10,x',
      "--hidden-units must be comma-separated positive ints such as 10,10, given: '10,x'",
    ),
    ('--seed', '-1', "--seed must be a non-negative int, given: '-1'"),
    ('--dropout', '1.5', "--dropout must be a number in [0, 1), given: '1.5'"),
    ('--steps-per-run', '0', "--steps-per-run must be a positive int, given: '0'"),
    ('--model', 'tree', "argument --model: invalid choice: 'tree'"),
  ],
)
def test_bad_flag_values(capsys, tmp_path, flag, value, message):
  code, line = _error(
    capsys,
    [
      'train',
      '--train',
      TRAIN_CSV,
      '--label',
      'Species',
      '--model-dir',
      tmp_path / 'm',
      flag,
      value,
    ],
  )
  assert code == 2
  assert line.startswith('tfest: error: ' + message), line
  assert line.endswith('(see: tfest train --help)')


# Error paths against the trained model_dir: refused, and its files left exactly as they were.


@pytest.fixture
def untouched(trained):
  """The trained model_dir; fails the test if any of its files changed."""
  model_dir, _ = trained
  before = _snapshot(model_dir)
  yield model_dir
  assert _snapshot(model_dir) == before


def _csv_without(column):
  def make(tmp_path):
    pd.read_csv(TEST_CSV).drop(columns=[column]).to_csv(tmp_path / 'rows.csv', index=False)
    return tmp_path / 'rows.csv'

  return make


# Input refused against the trained model_dir (exit status 2, its files untouched). As
# _REFUSED_INPUT, with '{model_dir}' the trained model_dir.
_REFUSED_FOR_THE_TRAINED_MODEL = [
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'Species', '{model_dir}') + ['--hidden-units', '20'],
    '==',
    'tfest: error: --model-dir {model_dir} already holds a classifier with hidden units '
    '10,10 on features SepalLength, SepalWidth, PetalLength, PetalWidth and 3 classes, '
    'trained with --hidden-units 10,10, given: --hidden-units 20; pass a new --model-dir, '
    'or leave --hidden-units out to continue training that model',
    id='retraining_with_other_hidden_units',
  ),
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'PetalWidth', '{model_dir}') + ['--model', 'regressor'],
    'in',
    ['trained with --model classifier, given: --model regressor'],
    id='retraining_as_a_regressor',
  ),
  pytest.param(
    _edited_csv(
      TEST_CSV, 2, lambda line: line.rsplit(',', 2)[0] + ',wide,' + line.rsplit(',', 1)[1]
    ),
    ['evaluate', '--model-dir', '{model_dir}', '--eval', '{path}'],
    'end',
    "--eval {path} column 'PetalWidth' must be numeric (the model was trained on numbers), "
    "given: 'wide' at line 3",
    id='evaluate_text_in_a_numeric_column',
  ),
  pytest.param(
    _edited_csv(TEST_CSV, 1, lambda line: line.rsplit(',', 1)[0] + ',7'),
    ['evaluate', '--model-dir', '{model_dir}', '--eval', '{path}'],
    'end',
    "label column 'Species' must hold class ids 0 to 2 as in training, given: '7' at line 2",
    id='evaluate_class_the_model_never_saw',
  ),
  pytest.param(
    _csv_without('PetalLength'),
    ['predict', '--model-dir', '{model_dir}', '--input', '{path}'],
    'in',
    [
      "--input {path} has no column 'PetalLength' (the model was trained on "
      'SepalLength, SepalWidth, PetalLength, PetalWidth)'
    ],
    id='predict_input_without_a_training_column',
  ),
  pytest.param(
    None,
    ['predict', '--saved-model', '{model_dir}', '--input', TEST_CSV],
    'end',
    '--saved-model must be a SavedModel directory (with saved_model.pb), given: '
    '{model_dir!r}; it is a model_dir: use --model-dir {model_dir}',
    id='predict_saved_model_given_a_model_dir',
  ),
  pytest.param(
    None,
    _train_argv(TRAIN_CSV, 'Species', '{model_dir}')
    + ['--learning-rate', '0.2', '--optimizer', 'Adamm'],
    'in',
    ['--optimizer', 'Adamm'],
    id='unknown_optimizer_names_the_flag',
  ),
]


@pytest.mark.slow
@pytest.mark.parametrize('make, argv, how, expected', _REFUSED_FOR_THE_TRAINED_MODEL)
def test_input_is_refused_for_the_trained_model(
  capsys, untouched, tmp_path, make, argv, how, expected
):
  path = make(tmp_path) if make else None
  _assert_refused(capsys, argv, how, expected, path=str(path), model_dir=str(untouched))


@pytest.mark.slow
def test_model_dir_of_another_program_is_refused(capsys, trained, tmp_path):
  model_dir, _ = trained
  foreign = tmp_path / 'foreign'
  shutil.copytree(model_dir, foreign)
  (foreign / 'tfest.json').unlink()
  before = _snapshot(foreign)
  _, line = _error(capsys, ['evaluate', '--model-dir', foreign, '--eval', TEST_CSV])
  assert line.endswith(
    '--model-dir must be a model_dir trained by tfest train, given: %r, '
    'which holds a checkpoint but no tfest.json (another program trained it, '
    'so its features and label are unknown)' % str(foreign)
  )
  _, line = _error(
    capsys, ['train', '--train', TRAIN_CSV, '--label', 'Species', '--model-dir', foreign]
  )
  assert 'which holds a checkpoint but no tfest.json' in line
  assert _snapshot(foreign) == before


@pytest.mark.slow
@pytest.mark.parametrize(
  'argv',
  [['evaluate', '--eval', TEST_CSV], ['predict', '--input', TEST_CSV], ['export']],
  ids=['evaluate', 'predict', 'export'],
)
def test_a_checkpoint_of_another_model_is_refused(capsys, trained, tmp_path, argv):
  """tfest.json says hidden units 20, the checkpoint holds 10,10: refused, nothing written."""
  model_dir, _ = trained
  other = tmp_path / 'other'
  shutil.copytree(model_dir, other)
  record = json.loads((other / 'tfest.json').read_text())
  record['hidden_units'] = [20]
  (other / 'tfest.json').write_text(json.dumps(record))
  before, names = _snapshot(other), sorted(os.listdir(other))
  code, line = _error(capsys, argv[:1] + ['--model-dir', other] + argv[1:])
  assert code != 0
  assert 'holds a checkpoint of another model' in line, line
  assert (
    'dnn/hiddenlayer_0/kernel: float32 [4, 10] in the checkpoint, float32 [4, 20] in the model'
  ) in line
  assert _snapshot(other) == before
  assert sorted(os.listdir(other)) == names  # No eval/, no export/.


def test_steps_per_run_trains_that_many_steps_per_session_run(capsys, tmp_path):
  # The training rows of history.csv are one per session.run: with --steps-per-run 2, 5 steps
  # are 3 runs (2, 2, then 1 to stop exactly at --steps), not 5 runs of one step.
  model_dir = tmp_path / 'm'
  assert (
    _main(
      [
        'train',
        '--train',
        TRAIN_CSV,
        '--label',
        'Species',
        '--model-dir',
        model_dir,
        '--steps',
        '5',
        '--steps-per-run',
        '2',
        '--seed',
        '0',
        '--no-progress',
      ]
    )
    == 0
  )
  assert _metrics(capsys.readouterr().out)['global_step'] == 5
  assert pd.read_csv(model_dir / 'history.csv')['step'].tolist() == [2, 4, 5]


def test_steps_per_run_is_refused_for_a_template_without_it(capsys, tmp_path, monkeypatch):
  # The shipped templates take steps_per_run; one that does not (its check_params refuses the
  # key) gets the flag refused before anything runs.
  from tfest_adapters import models

  check = models.classifier_model_fn.check_params

  def check_without_steps_per_run(params):
    if 'steps_per_run' in params:
      raise exceptions.ArgumentKeyError('params has no key steps_per_run')
    return check(params)

  monkeypatch.setattr(models.classifier_model_fn, 'check_params', check_without_steps_per_run)
  _assert_refused(
    capsys,
    _train_argv(TRAIN_CSV, 'Species') + ['--steps', '4', '--steps-per-run', '2'],
    '==',
    'tfest: error: --steps-per-run needs a model template that runs several steps per '
    'session.run call, given: --steps-per-run 2, but classifier_model_fn of this '
    'tfest_adapters takes no steps_per_run param; leave --steps-per-run out',
    tmp=tmp_path,
  )
  assert not (tmp_path / 'm').exists()


# More of train: class names, categorical columns and resuming; a regressor on .npz; TFRecord.


def _iris_with_names(path):
  """Iris with class names as labels and a text column: categorical features and labels."""
  frame = pd.read_csv(TRAIN_CSV)
  frame['Species'] = np.array(['Setosa', 'Versicolor', 'Virginica'])[frame['Species']]
  frame.insert(0, 'Petal size', np.where(frame['PetalLength'] > 4, 'large', 'small'))
  frame.to_csv(path, index=False)
  return frame


@pytest.mark.slow
def test_class_names_and_a_categorical_column(tmp_path, capsys):
  train = _iris_with_names(tmp_path / 'named.csv')
  model_dir = tmp_path / 'named'
  assert (
    _main(
      [
        'train',
        '--train',
        tmp_path / 'named.csv',
        '--label',
        'Species',
        '--model-dir',
        model_dir,
        '--steps',
        '5',
        '--seed',
        '0',
        '--no-progress',
      ]
    )
    == 0
  )
  assert '4 numeric, 1 categorical' in capsys.readouterr().out
  # Training again in the same model_dir continues from its checkpoint, with its record.
  assert (
    _main(
      [
        'train',
        '--train',
        tmp_path / 'named.csv',
        '--label',
        'Species',
        '--model-dir',
        model_dir,
        '--steps',
        '5',
        '--no-progress',
      ]
    )
    == 0
  )
  out = capsys.readouterr().out
  assert out.startswith('Continuing %s: a classifier' % model_dir)
  assert _metrics(out)['global_step'] == 10
  record = json.loads((model_dir / 'tfest.json').read_text())
  assert record['schema']['label'] == {
    'name': 'Species',
    'kind': 'class_names',
    'n_classes': 3,
    'vocabulary': ['Setosa', 'Versicolor', 'Virginica'],
  }
  # A column name TensorFlow refuses as a scope or placeholder name gets a safe key.
  assert record['schema']['features'][0] == {
    'name': 'Petal size',
    'key': 'Petal_size',
    'kind': 'categorical',
    'vocabulary': ['large', 'small'],
  }
  # A category never seen in training is predicted (out-of-vocabulary bucket), not refused.
  rows = train.drop(columns='Species')[:4]
  rows['Petal size'] = ['large', 'small', 'medium', 'small']
  rows.to_csv(tmp_path / 'rows.csv', index=False)
  assert (
    _main(
      [
        'predict',
        '--model-dir',
        model_dir,
        '--input',
        tmp_path / 'rows.csv',
        '--output',
        tmp_path / 'out.csv',
      ]
    )
    == 0
  )
  out = pd.read_csv(tmp_path / 'out.csv')
  assert list(out.columns) == [
    'class',
    'probability_Setosa',
    'probability_Versicolor',
    'probability_Virginica',
  ]
  assert set(out['class']) <= {'Setosa', 'Versicolor', 'Virginica'} and len(out) == 4
  # A class name the model never saw cannot be evaluated.
  train.assign(Species=['Rose'] + list(train['Species'][1:])).to_csv(
    tmp_path / 'rose.csv', index=False
  )
  capsys.readouterr()
  _, line = _error(capsys, ['evaluate', '--model-dir', model_dir, '--eval', tmp_path / 'rose.csv'])
  assert line.endswith(
    "label column 'Species' must hold classes the model was trained on "
    "('Setosa', 'Versicolor', 'Virginica'), given: 'Rose' at line 2"
  )


@pytest.mark.slow
def test_regressor_on_npz_with_a_vector_feature(tmp_path, capsys):
  frame = pd.read_csv(TRAIN_CSV)
  path = tmp_path / 'iris.npz'
  np.savez(
    path,
    petal_width=frame['PetalWidth'].to_numpy(np.float32),
    measurements=frame[['SepalLength', 'SepalWidth', 'PetalLength']].to_numpy(),
  )
  model_dir = tmp_path / 'regressor'
  assert (
    _main(
      [
        'train',
        '--train',
        path,
        '--label',
        'petal_width',
        '--model',
        'regressor',
        '--hidden-units',
        '8',
        '--model-dir',
        model_dir,
        '--steps',
        '5',
        '--no-progress',
      ]
    )
    == 0
  )
  out = capsys.readouterr().out
  assert 'a regressor with hidden units 8 on features measurements' in out
  assert 'average_loss' in _metrics(out)
  record = json.loads((model_dir / 'tfest.json').read_text())
  assert record['schema']['features'][0]['shape'] == [3]
  assert len(record['schema']['features'][0]['mean']) == 3
  assert (
    _main(['predict', '--model-dir', model_dir, '--input', path, '--output', tmp_path / 'out.csv'])
    == 0
  )
  predictions = pd.read_csv(tmp_path / 'out.csv')
  assert list(predictions.columns) == ['prediction'] and len(predictions) == 120
  assert np.isfinite(predictions['prediction']).all()


@pytest.mark.slow
def test_evaluate_tfrecord_shards_with_a_feature_spec(trained, tmp_path, capsys):
  # The Iris test rows as 2 TFRecord shards by write_tfrecords; its feature spec as JSON.
  from tfest_adapters import input_fns

  model_dir, train_proc = trained
  frame = pd.read_csv(TEST_CSV)
  written = input_fns.write_tfrecords(
    frame[list(IRIS_FEATURES)],
    frame['Species'],
    str(tmp_path / 'iris.tfrecord'),
    num_shards=2,
    label_key='Species',
  )
  spec = tmp_path / 'spec.json'
  spec.write_text(
    json.dumps(
      {k: {'dtype': v.dtype.name, 'shape': list(v.shape)} for k, v in written.feature_spec.items()}
    )
  )
  assert (
    _main(
      [
        'evaluate',
        '--model-dir',
        model_dir,
        '--eval',
        tmp_path / 'iris.tfrecord-*',
        '--feature-spec',
        spec,
        '--json',
      ]
    )
    == 0
  )
  metrics = json.loads(capsys.readouterr().out)
  trained_metrics = _metrics(train_proc.stdout)
  for key in ('accuracy', 'average_loss'):
    assert metrics[key] == pytest.approx(trained_metrics[key], rel=1e-5), key
  bad_spec = tmp_path / 'bad.json'
  bad_spec.write_text(json.dumps({'SepalLength': 'float16'}))
  _, line = _error(
    capsys,
    [
      'evaluate',
      '--model-dir',
      model_dir,
      '--eval',
      tmp_path / 'iris.tfrecord-*',
      '--feature-spec',
      bad_spec,
    ],
  )
  assert line.endswith(
    "--feature-spec: column 'SepalLength' must have a dtype among float32, "
    "float64, int64, string, given: 'float16'"
  )


def test_the_default_learning_rate_is_the_one_its_help_names():
  """0.05 is tf.compat.v1.estimator.DNNClassifier's rate; TF 2's DNNClassifier uses 0.001."""
  import inspect

  import tensorflow as tf
  from tensorflow_estimator.python.estimator.canned import dnn
  from tensorflow_estimator.python.estimator.canned import optimizers

  from tfest_adapters.cli import _parser
  from tfest_adapters.cli import _record

  v1 = inspect.signature(tf.compat.v1.estimator.DNNClassifier.__init__).parameters
  assert v1['optimizer'].default == 'Adagrad'
  v1_optimizer = optimizers.get_optimizer_instance('Adagrad', learning_rate=dnn._LEARNING_RATE)
  assert v1_optimizer._learning_rate == _record.DEFAULT_LEARNING_RATE == 0.05
  assert _record.new_record('classifier', None, {})['options']['learning_rate'] == 0.05
  (action,) = [
    a
    for a in _parser.build_parser()._subparsers._group_actions[0].choices['train']._actions
    if a.dest == 'learning_rate'
  ]
  assert "0.05, as TF 1's tf.compat.v1.estimator.DNNClassifier" in action.help
  assert "tf.estimator.DNNClassifier and the Python templates use Adagrad's own 0.001" in (
    ' '.join(action.help.split())
  )
