"""The ``tfest`` command line: train, evaluate, predict and export from data files.

::

  tfest train --train data/iris_training.csv --eval data/iris_test.csv --label Species \\
      --model classifier --hidden-units 10,10 --steps 1000 --batch-size 32 --model-dir runs/x
  tfest evaluate --model-dir runs/x --eval data/iris_test.csv
  tfest predict --model-dir runs/x --input rows.csv --output predictions.csv
  tfest export --model-dir runs/x            # a SavedModel under runs/x/export/<timestamp>
  tfest predict --saved-model runs/x/export/<timestamp> --input rows.csv

``train`` reads a CSV (or ``.npz``, or TFRecord files with ``--feature-spec``), infers the
feature columns (numbers become standardized ``numeric_column``s, text becomes
``categorical_column_with_vocabulary_list`` with the vocabulary of the training file), trains
``classifier_model_fn`` or ``regressor_model_fn`` in a real ``tf.estimator.Estimator`` with a
progress bar, evaluates, and writes ``history.csv`` and ``history.png`` into the model_dir. It
also writes ``tfest.json`` there: the feature columns, label classes, model kind and options,
which ``evaluate``, ``predict`` and ``export`` read back, so that they never retrain and never
need the training file. Running ``train`` again on the same model_dir continues training.

Every command runs in two phases. The first reads the arguments, the data files and the
model_dir's ``tfest.json`` and refuses anything that cannot work, without building a graph or
touching the model_dir: it ends with one line on stderr, ``tfest: error: ...``, naming the
argument, what was expected and what was given, and exit status 2. The second phase runs
TensorFlow; an error there also ends with one line (exit status 1); ``--debug`` shows the
traceback instead.
"""

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import warnings

from tfest_adapters.cli import _data as data
from tfest_adapters import exceptions

RECORD_NAME = 'tfest.json'
RECORD_FORMAT = 'tfest-run'
RECORD_VERSION = 1
HISTORY_CSV = 'history.csv'
HISTORY_PNG = 'history.png'
DEFAULT_HIDDEN_UNITS = (10, 10)
DEFAULT_LEARNING_RATE = 0.05


def _fail(text, error=exceptions.ArgumentError):
  raise error(text)


# Argument types: each raises argparse.ArgumentTypeError with 'must be ..., given: ...', which
# the parser turns into '--flag must be ..., given: ...'.


def _positive_int(text):
  try:
    value = int(text)
  except ValueError:
    value = None
  if value is None or value <= 0:
    raise argparse.ArgumentTypeError('must be a positive int, given: %r' % text)
  return value


def _non_negative_int(text):
  try:
    value = int(text)
  except ValueError:
    value = None
  if value is None or value < 0:
    raise argparse.ArgumentTypeError('must be a non-negative int, given: %r' % text)
  return value


def _positive_float(text):
  try:
    value = float(text)
  except ValueError:
    value = None
  if value is None or not 0 < value < float('inf'):
    raise argparse.ArgumentTypeError('must be a positive number, given: %r' % text)
  return value


def _dropout(text):
  try:
    value = float(text)
  except ValueError:
    value = None
  if value is None or not 0 <= value < 1:
    raise argparse.ArgumentTypeError('must be a number in [0, 1), given: %r' % text)
  return value


def _units(text):
  parts = [p.strip() for p in text.split(',')]
  try:
    units = [int(p) for p in parts]
  except ValueError:
    units = None
  if not units or any(u <= 0 for u in units):
    raise argparse.ArgumentTypeError(
        'must be comma-separated positive ints such as 10,10, given: %r' % text)
  return units


def _names(text):
  names = [p.strip() for p in text.split(',')]
  if not all(names):
    raise argparse.ArgumentTypeError(
        'must be comma-separated column names such as a,b, given: %r' % text)
  return names


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are one line: ``tfest: error: --flag must be ...``."""

  def error(self, message):
    message = re.sub(r'^argument ([^:]+): (must )', lambda m: m.group(1).split('/')[-1] + ' ' +
                     m.group(2), message)
    self.exit(2, 'tfest: error: %s (see: %s --help)\n' % (message, self.prog))


def _add_reading(group):
  group.add_argument('--format', choices=data.FORMATS, default=None,
                     help='format of the data files (default: from the extension: .csv, .npz, '
                          '.tfrecord)')
  group.add_argument('--feature-spec', metavar='SPEC.json', default=None,
                     help='how to parse TFRecord files of tf.Example: a JSON object of column '
                          'name -> dtype (float32, float64, int64, string) or {"dtype": ..., '
                          '"shape": [...]}, label included')


def _add_common(parser):
  group = parser.add_argument_group('output')
  group.add_argument('--verbose', action='store_true',
                     help="show TensorFlow's own log messages and warnings")
  group.add_argument('--debug', action='store_true',
                     help='show the full traceback of an error instead of one line')
  return group


def build_parser():
  """The argparse parser of ``tfest`` and its four subcommands."""
  parser = _Parser(
      prog='tfest',
      description='Train, evaluate, predict and export tf.estimator models from data files.',
      epilog='Run "tfest <command> --help" for the options of each command.')
  from tfest_adapters import __version__  # pylint: disable=g-import-not-at-top
  parser.add_argument('--version', action='version', version='tfest ' + __version__)
  commands = parser.add_subparsers(dest='command', metavar='command', parser_class=_Parser)
  commands.required = True

  train = commands.add_parser(
      'train', help='train a model from a data file',
      description='Train a classifier or a regressor on a CSV, .npz or TFRecord file, evaluate '
                  'it, and write history.csv, history.png and tfest.json into --model-dir. '
                  'Running it again on the same --model-dir continues training.')
  group = train.add_argument_group('data')
  group.add_argument('--train', required=True, metavar='FILE',
                     help='training data: a CSV file with a header line, a .npz file, or '
                          'TFRecord files (a glob pattern) with --feature-spec')
  group.add_argument('--label', required=True, metavar='COLUMN', help='the label column')
  group.add_argument('--eval', metavar='FILE', default=None,
                     help='evaluation data with the same columns (default: evaluate on --train)')
  group.add_argument('--features', type=_names, default=None, metavar='A,B',
                     help='the feature columns (default: every column but the label)')
  group.add_argument('--categorical', type=_names, default=None, metavar='A,B',
                     help='columns of numbers to treat as categories (text columns always are)')
  group.add_argument('--no-normalize', dest='normalize', action='store_const', const=False,
                     default=None,
                     help='feed numeric columns as they are (default: standardized with the '
                          'mean and standard deviation of --train)')
  _add_reading(group)
  group = train.add_argument_group('model')
  group.add_argument('--model-dir', required=True, metavar='DIR',
                     help='checkpoints, events, tfest.json and history go here')
  group.add_argument('--model', choices=data.MODELS, default=None,
                     help='classifier (class ids or class names as labels) or regressor '
                          '(default: classifier, or the model already in --model-dir)')
  group.add_argument('--hidden-units', type=_units, default=None, metavar='N,N',
                     help='units of each hidden layer (default: %s)' % ','.join(
                         str(u) for u in DEFAULT_HIDDEN_UNITS))
  group.add_argument('--n-classes', type=_positive_int, default=None, metavar='N',
                     help='number of classes when labels are class ids (default: largest + 1)')
  group.add_argument('--optimizer', default=None,
                     help="Adagrad, Adam, SGD, RMSProp or Ftrl (default: the template's, "
                          "Adagrad)")
  group.add_argument('--learning-rate', type=_positive_float, default=None, metavar='RATE',
                     help='the learning rate (default: %g, as tf.estimator.DNNClassifier; or '
                          'the last one the model in --model-dir was trained with)' %
                     DEFAULT_LEARNING_RATE)
  group.add_argument('--activation', default=None,
                     help="activation of the hidden layers, such as relu or tanh (default: "
                          "the template's, relu)")
  group.add_argument('--dropout', type=_dropout, default=None, metavar='RATE',
                     help='dropout rate of the hidden layers when training (default: none)')
  group = train.add_argument_group('training')
  group.add_argument('--steps', type=_positive_int, default=1000,
                     help='training steps to run now (default: 1000)')
  group.add_argument('--batch-size', type=_positive_int, default=32, metavar='N',
                     help='examples per training step (default: 32)')
  group.add_argument('--seed', type=_non_negative_int, default=None,
                     help='seed for the weights and the data order (default: not seeded)')
  group.add_argument('--eval-every', type=_positive_int, default=None, metavar='STEPS',
                     help='also evaluate on --eval every STEPS training steps, for the history')
  group.add_argument('--steps-per-run', type=_positive_int, default=None, metavar='K',
                     help='training steps per session.run call, when the model template '
                          'supports it')
  _add_common(train).add_argument('--no-progress', dest='progress', action='store_false',
                                  help='no progress bar')

  evaluate = commands.add_parser(
      'evaluate', help='evaluate a trained model_dir on a data file',
      description='Evaluate the latest checkpoint of a model_dir trained by "tfest train" on a '
                  'data file with the training columns and the label; print the metrics.')
  evaluate.add_argument('--model-dir', required=True, metavar='DIR',
                        help='a model_dir trained by tfest train')
  evaluate.add_argument('--eval', '--input', dest='eval', required=True, metavar='FILE',
                        help='evaluation data, with the label column')
  evaluate.add_argument('--batch-size', type=_positive_int, default=128, metavar='N',
                        help='examples per evaluation step (default: 128)')
  _add_reading(evaluate)
  _add_common(evaluate).add_argument('--json', action='store_true',
                                     help='print the metrics as one JSON object')

  predict = commands.add_parser(
      'predict', help='predict rows of a data file',
      description='Predict every row of a data file with a model_dir trained by "tfest train" '
                  'or with a SavedModel; write one CSV row of predictions per input row.')
  source = predict.add_mutually_exclusive_group(required=True)
  source.add_argument('--model-dir', metavar='DIR', help='a model_dir trained by tfest train')
  source.add_argument('--saved-model', metavar='DIR',
                      help='a SavedModel directory (from tfest export)')
  predict.add_argument('--input', required=True, metavar='FILE',
                       help='rows to predict, with the training columns (a label column is '
                            'ignored)')
  predict.add_argument('--output', metavar='FILE', default=None,
                       help='write the predictions CSV here (default: standard output)')
  predict.add_argument('--batch-size', type=_positive_int, default=128, metavar='N',
                       help='examples per prediction step (default: 128)')
  _add_reading(predict)
  _add_common(predict)

  export = commands.add_parser(
      'export', help='export a trained model_dir as a SavedModel',
      description='Export the latest checkpoint of a model_dir trained by "tfest train" as a '
                  'SavedModel, check that it predicts what the Estimator predicts, and print '
                  'its directory.')
  export.add_argument('--model-dir', required=True, metavar='DIR',
                      help='a model_dir trained by tfest train')
  export.add_argument('--export-dir', metavar='DIR', default=None,
                      help='the SavedModel goes into a new timestamped directory under DIR '
                           '(default: <model-dir>/export)')
  export.add_argument('--parse-examples', action='store_true',
                      help='serve serialized tf.Example protos instead of raw feature tensors')
  _add_common(export)
  return parser


# The run record: tfest.json in the model_dir.


def _has_checkpoint(model_dir):
  return os.path.isfile(os.path.join(model_dir, 'checkpoint'))


def _is_saved_model(path):
  return any(os.path.isfile(os.path.join(path, name))
             for name in ('saved_model.pb', 'saved_model.pbtxt'))


def _read_record(path, arg):
  try:
    with open(path, encoding='utf-8') as f:
      record = json.load(f)
  except (OSError, ValueError) as e:
    _fail('%s must hold a readable %s, given: %r (%s)' % (arg, RECORD_NAME, path, e),
          exceptions.ModelDirError)
  if not isinstance(record, dict) or record.get('format') != RECORD_FORMAT:
    _fail('%s must hold a %s written by tfest train, given: %r, which is not one' % (
        arg, RECORD_NAME, path), exceptions.ModelDirError)
  if record.get('format_version') != RECORD_VERSION:
    _fail('%s must hold a %s of format version %d, given: %r of version %r; train a new '
          'model_dir with this tfest' % (arg, RECORD_NAME, RECORD_VERSION, path,
                                         record.get('format_version')),
          exceptions.ModelDirError)
  return record


def load_record(model_dir, arg='--model-dir'):
  """The run record of a model_dir trained by ``tfest train``, which must have a checkpoint."""
  if not os.path.exists(model_dir):
    _fail('%s must be a model_dir trained by tfest train, given: %r (no such directory)' % (
        arg, model_dir), exceptions.ModelDirError)
  if not os.path.isdir(model_dir):
    _fail('%s must be a model_dir trained by tfest train, given: %r (a file)' % (
        arg, model_dir), exceptions.ModelDirError)
  if _is_saved_model(model_dir):
    _fail('%s must be a model_dir trained by tfest train, given: %r, which is a SavedModel; '
          'use tfest predict --saved-model %s' % (arg, model_dir, model_dir),
          exceptions.ModelDirError)
  path = os.path.join(model_dir, RECORD_NAME)
  if not os.path.isfile(path):
    if _has_checkpoint(model_dir):
      _fail('%s must be a model_dir trained by tfest train, given: %r, which holds a checkpoint '
            'but no %s (another program trained it, so its features and label are unknown)' % (
                arg, model_dir, RECORD_NAME), exceptions.ModelDirError)
    _fail('%s must be a model_dir trained by tfest train, given: %r, which holds no %s and no '
          'checkpoint; run tfest train --model-dir %s first' % (
              arg, model_dir, RECORD_NAME, model_dir), exceptions.ModelDirError)
  record = _read_record(path, arg)
  if not _has_checkpoint(model_dir):
    _fail('%s must hold a checkpoint, given: %r, which has none yet; run tfest train '
          '--model-dir %s first' % (arg, model_dir, model_dir), exceptions.ModelDirError)
  return record


def _record_for_train(model_dir):
  """The run record of ``--model-dir`` when training goes on in it, None for a new model."""
  if not os.path.exists(model_dir):
    return None
  if not os.path.isdir(model_dir):
    _fail('--model-dir must be a directory, given: %r (a file)' % model_dir,
          exceptions.ModelDirError)
  if _is_saved_model(model_dir):
    _fail('--model-dir must be a model_dir, given: %r, which is a SavedModel; pass a new '
          'directory' % model_dir, exceptions.ModelDirError)
  path = os.path.join(model_dir, RECORD_NAME)
  if os.path.isfile(path):
    return _read_record(path, '--model-dir')
  if _has_checkpoint(model_dir):
    _fail('--model-dir must be new or trained by tfest train, given: %r, which holds a '
          'checkpoint but no %s (another program trained it; its model is unknown); pass a new '
          '--model-dir' % (model_dir, RECORD_NAME), exceptions.ModelDirError)
  return None


def describe_model(record):
  """'a classifier with hidden units 10,10 on features SepalLength, ... and 3 classes'."""
  label = record['schema']['label']
  text = 'a %s with hidden units %s on features %s' % (
      record['model'], ','.join(str(u) for u in record['hidden_units']),
      ', '.join(f['name'] for f in record['schema']['features']))
  if record['model'] == data.CLASSIFIER:
    text += ' and %d classes' % label['n_classes']
  return text


def _check_same_model(args, record):
  """Refuses options that contradict the model already trained in ``--model-dir``."""
  schema = record['schema']
  categorical = sorted(f['name'] for f in schema['features'] if f['kind'] == data.CATEGORICAL)
  normalized = any('mean' in f for f in schema['features'])
  checks = [
      ('--model', args.model, record['model']),
      ('--hidden-units', args.hidden_units, record['hidden_units']),
      ('--label', args.label, schema['label']['name']),
      ('--features', args.features, [f['name'] for f in schema['features']]),
      ('--categorical', sorted(args.categorical) if args.categorical else None, categorical),
      ('--n-classes', args.n_classes, schema['label'].get('n_classes')),
      ('--optimizer', args.optimizer, record['options'].get('optimizer')),
      ('--activation', args.activation, record['options'].get('activation')),
  ]
  for flag, given, recorded in checks:
    if given is not None and given != recorded:
      recorded = _flag_text(recorded, flag)
      _refuse_other_model(args.model_dir, record, 'with ' + (
          recorded if recorded.startswith('no ') else '%s %s' % (flag, recorded)),
                          '%s %s' % (flag, _flag_text(given, flag)), flag)
  if args.normalize is False and normalized:
    _refuse_other_model(args.model_dir, record, 'on standardized numeric columns',
                        '--no-normalize', '--no-normalize')


def _flag_text(value, flag):
  if value is None:
    return "no %s (the template's default)" % flag
  if isinstance(value, list):
    return ','.join(str(v) for v in value)
  return str(value)


def _refuse_other_model(model_dir, record, trained, given, flag):
  _fail('--model-dir %s already holds %s, trained %s, given: %s; pass a new --model-dir, or '
        'leave %s out to continue training that model' % (
            model_dir, describe_model(record), trained, given, flag),
        exceptions.ModelDirError)


def _read(args, path, arg):
  spec = None
  if args.feature_spec is not None:
    spec = data.read_feature_spec(args.feature_spec)
  return data.read_table(path, arg, args.format, spec)


# train


class _Plan(object):
  """What a command will do, once everything has been checked (a plain attribute bag)."""

  def __init__(self, **kwargs):
    self.__dict__.update(kwargs)


def prepare_train(args):
  """Checks everything ``tfest train`` needs; returns a :class:`_Plan`.

  The model_dir, the options and the data files are checked without TensorFlow; then the
  model template checks its params (TensorFlow imported, no graph built).
  """
  record = _record_for_train(args.model_dir)
  new_model = record is None
  if not new_model:
    _check_same_model(args, record)
  if args.eval_every is not None and args.eval is None:
    _fail('--eval-every needs --eval, given: --eval-every %d without --eval' % args.eval_every)
  train_table = _read(args, args.train, '--train')
  if new_model:
    model = args.model or data.CLASSIFIER
    if args.n_classes is not None and model == data.REGRESSOR:
      _fail('--n-classes must be left out for --model regressor, given: %d' % args.n_classes)
    schema = data.infer_schema(
        train_table, args.label, model, features=args.features,
        categorical=args.categorical or (), n_classes=args.n_classes,
        normalize=args.normalize is not False)
    record = {
        'format': RECORD_FORMAT,
        'format_version': RECORD_VERSION,
        'model': model,
        'hidden_units': list(args.hidden_units or DEFAULT_HIDDEN_UNITS),
        'options': {},
        'schema': schema,
    }
  else:
    record = dict(record)
  resuming = not new_model and _has_checkpoint(args.model_dir)
  options = dict(record.get('options', {}))
  if new_model:
    # The learning rate tf.estimator's DNN estimators give an optimizer named by a string; the
    # optimizers' own defaults (0.001 for Adagrad) barely move a small network in 1000 steps.
    options['learning_rate'] = DEFAULT_LEARNING_RATE
  for key in ('optimizer', 'activation', 'learning_rate', 'dropout'):
    if getattr(args, key) is not None:
      options[key] = getattr(args, key)
  record['options'] = options
  train_x, train_y = data.conform(train_table, record['schema'], with_labels=True)
  eval_x = eval_y = None
  if args.eval is not None:
    eval_x, eval_y = data.conform(_read(args, args.eval, '--eval'), record['schema'],
                                  with_labels=True)
  if not resuming:
    record['sample'] = data.sample_rows(train_x)
  record['train'] = {'file': os.path.abspath(args.train), 'rows': len(train_y)}
  # Last, the model template's own check of the params (optimizer and activation names, ...):
  # this imports TensorFlow, but builds no graph.
  from tfest_adapters.cli import _model  # pylint: disable=g-import-not-at-top
  _model.check_params(record, args.steps_per_run)
  return _Plan(args=args, record=record, resuming=resuming, train_x=train_x, train_y=train_y,
               eval_x=eval_x, eval_y=eval_y)


def run_train(plan):
  from tfest_adapters.cli import _model  # pylint: disable=g-import-not-at-top
  args, record = plan.args, plan.record
  out = sys.stdout
  print('%s %s: %s, %s (%d training rows from %s)' % (
      'Continuing' if plan.resuming else 'Training', args.model_dir, describe_model(record),
      data.describe_schema(record['schema']), len(plan.train_y), args.train), file=out,
        flush=True)
  result = _model.train(
      record, args.model_dir, plan.train_x, plan.train_y, eval_x=plan.eval_x,
      eval_y=plan.eval_y, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
      steps_per_run=args.steps_per_run, eval_every=args.eval_every, progress=args.progress,
      save_record=lambda r: _write_record(args.model_dir, r))
  where = args.eval if args.eval is not None else args.train + ' (the training data)'
  print('Evaluation on %s at step %d:' % (where, result['metrics']['global_step']), file=out)
  _print_metrics(result['metrics'], out)
  print('Wrote %s and %s' % (result['history_csv'], result['history_png']), file=out)
  print('TensorBoard: tensorboard --logdir %s' % args.model_dir, file=out, flush=True)
  return 0


def _write_record(model_dir, record):
  os.makedirs(model_dir, exist_ok=True)
  path = os.path.join(model_dir, RECORD_NAME)
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    json.dump(record, f, indent=1, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


def _print_metrics(metrics, out):
  width = max(len(k) for k in metrics)
  for key in sorted(metrics):
    value = metrics[key]
    text = '%d' % value if float(value).is_integer() and 'step' in key else '%.6g' % value
    print('  %-*s  %s' % (width, key, text), file=out)
  out.flush()


# evaluate


def prepare_evaluate(args):
  record = load_record(args.model_dir)
  eval_x, eval_y = data.conform(_read(args, args.eval, '--eval'), record['schema'],
                                with_labels=True)
  return _Plan(args=args, record=record, eval_x=eval_x, eval_y=eval_y)


def run_evaluate(plan):
  from tfest_adapters.cli import _model  # pylint: disable=g-import-not-at-top
  metrics = _model.evaluate(plan.record, plan.args.model_dir, plan.eval_x, plan.eval_y,
                                batch_size=plan.args.batch_size)
  if plan.args.json:
    print(json.dumps(metrics, sort_keys=True))
  else:
    print('Evaluation of %s on %s (%d rows) at step %d:' % (
        plan.args.model_dir, plan.args.eval, len(plan.eval_y), metrics['global_step']))
    _print_metrics(metrics, sys.stdout)
  return 0


# predict


def _record_of_saved_model(path):
  """The run record that ``tfest export`` copied into a SavedModel, or None."""
  record_path = os.path.join(path, 'assets.extra', RECORD_NAME)
  if os.path.isfile(record_path):
    return _read_record(record_path, '--saved-model')
  return None


def prepare_predict(args):
  if args.saved_model is not None:
    path = args.saved_model
    if not os.path.isdir(path):
      _fail('--saved-model must be a SavedModel directory, given: %r (%s)' % (
          path, 'a file' if os.path.exists(path) else 'no such directory'),
            exceptions.ModelDirError)
    if not _is_saved_model(path):
      hint = ''
      if _has_checkpoint(path) or os.path.isfile(os.path.join(path, RECORD_NAME)):
        hint = '; it is a model_dir: use --model-dir %s' % path
      _fail('--saved-model must be a SavedModel directory (with saved_model.pb), given: %r%s' % (
          path, hint), exceptions.ModelDirError)
    record = _record_of_saved_model(path)
  else:
    if os.path.isdir(args.model_dir) and _is_saved_model(args.model_dir):
      _fail('--model-dir must be a model_dir trained by tfest train, given: %r, which is a '
            'SavedModel; use --saved-model %s' % (args.model_dir, args.model_dir),
            exceptions.ModelDirError)
    record = load_record(args.model_dir)
  table = _read(args, args.input, '--input')
  if record is not None:
    features, _ = data.conform(table, record['schema'], with_labels=False)
  else:
    features = None
  if args.output is not None:
    parent = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(parent):
      _fail('--output must be in an existing directory, given: %r (no directory %r)' % (
          args.output, parent))
    if os.path.isdir(args.output):
      _fail('--output must be a file, given: %r (a directory)' % args.output)
  return _Plan(args=args, record=record, table=table, features=features)


def run_predict(plan):
  from tfest_adapters.cli import _model  # pylint: disable=g-import-not-at-top
  args = plan.args
  if args.saved_model is not None:
    frame = _model.predict_saved_model(args.saved_model, plan.record, plan.features,
                                           plan.table, batch_size=args.batch_size)
  else:
    frame = _model.predict_model_dir(plan.record, args.model_dir, plan.features,
                                         batch_size=args.batch_size)
  if args.output is None:
    frame.to_csv(sys.stdout, index=False)
  else:
    frame.to_csv(args.output, index=False)
    print('Wrote %d predictions to %s' % (len(frame), args.output))
  return 0


# export


def prepare_export(args):
  record = load_record(args.model_dir)
  export_dir = args.export_dir or os.path.join(args.model_dir, 'export')
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    _fail('--export-dir must be a directory, given: %r (a file)' % export_dir)
  return _Plan(args=args, record=record, export_dir=export_dir)


def run_export(plan):
  from tfest_adapters.cli import _model  # pylint: disable=g-import-not-at-top
  path = _model.export(plan.record, plan.args.model_dir, plan.export_dir,
                           parse_examples=plan.args.parse_examples)
  extra = os.path.join(path, 'assets.extra')
  os.makedirs(extra, exist_ok=True)
  _write_record(extra, plan.record)
  print('Exported %s to %s' % (plan.args.model_dir, path))
  print('Predict with: tfest predict --saved-model %s --input rows.csv' % path)
  return 0


_COMMANDS = {
    'train': (prepare_train, run_train),
    'evaluate': (prepare_evaluate, run_evaluate),
    'predict': (prepare_predict, run_predict),
    'export': (prepare_export, run_export),
}


def _one_line(error):
  """The first line of an error message; for a TensorFlow graph error, the op's own message."""
  text = getattr(error, 'message', None) or str(error) or type(error).__name__
  lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
  if lines and lines[0].startswith('Graph execution error'):
    # 'Graph execution error:', 'Detected at node ...', the Python trace, "Node: 'x'", then
    # the op's message.
    for i, line in enumerate(lines[:-1]):
      if line.startswith('Node: '):
        return '%s (at node %s)' % (lines[i + 1], line[len('Node: '):])
  return lines[0] if lines else type(error).__name__


def main(argv=None):
  """Runs ``tfest`` on ``argv`` (default ``sys.argv[1:]``) and returns the exit status.

  0 on success, 2 for a bad argument or input (found before anything runs), 1 when the run
  fails, 130 when interrupted.
  """
  args = build_parser().parse_args(argv)
  with _quiet(args.verbose):
    return _main(args)


def _main(args):
  prepare, run = _COMMANDS[args.command]
  phase = 'checking the input'
  try:
    plan = prepare(args)
    phase = 'running'
    return run(plan)
  except exceptions.TfestError as e:
    if args.debug:
      raise
    sys.stdout.flush()
    print('tfest: error: %s' % _one_line(e), file=sys.stderr)
    return 2 if phase == 'checking the input' else 1
  except KeyboardInterrupt:
    print('tfest: interrupted', file=sys.stderr)
    return 130
  except BrokenPipeError:
    # Output piped into a command that stopped reading (`tfest predict ... | head`): stop
    # quietly, as the Python docs advise (and keep the interpreter from complaining at exit).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1
  except Exception as e:  # pylint: disable=broad-except
    # TensorFlow's own errors: one line, the traceback with --debug.
    if args.debug:
      raise
    sys.stdout.flush()
    print('tfest: error: %s while %s: %s (run again with --debug for the traceback)' % (
        type(e).__name__, phase, _one_line(e)), file=sys.stderr)
    return 1


@contextlib.contextmanager
def _quiet(verbose):
  """Silences TensorFlow's logging and warnings while tfest runs, unless ``--verbose``.

  Entered before TensorFlow is imported. ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (not the
  project's usual 2) so that an error is the only line on stderr: TensorFlow 2.15 logs three
  harmless C++ errors at import ("Unable to register cuDNN factory ..."). Errors that matter
  reach Python as exceptions, which main reports. A value already set is kept. The logger
  level and warning filters are restored on exit (main may run inside a larger program).
  """
  if verbose:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '0')
    yield
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  logger = logging.getLogger('tensorflow')
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    with warnings.catch_warnings():
      warnings.filterwarnings('ignore', module=r'(tensorflow|keras|tf_keras)(\.|$)')
      warnings.filterwarnings('ignore', category=DeprecationWarning)
      yield
  finally:
    logger.setLevel(level)
