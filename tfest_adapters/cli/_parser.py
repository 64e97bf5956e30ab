"""The argparse parser of ``tfest``: four subcommands, their flags, and one-line errors.

A bad flag value ends argparse with ``tfest: error: --flag must be ..., given: ...`` and exit
status 2, before anything is read.
"""

import argparse
from importlib import metadata
import re

from tfest_adapters.cli import _readers as readers
from tfest_adapters.cli import _record as record_lib

_DISTRIBUTION = 'tfest-adapters'


def _version():
  """The installed version of tfest-adapters (``'unknown'`` when it is not installed)."""
  try:
    return metadata.version(_DISTRIBUTION)
  except metadata.PackageNotFoundError:
    return 'unknown'


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
      'must be comma-separated positive ints such as 10,10, given: %r' % text
    )
  return units


def _names(text):
  names = [p.strip() for p in text.split(',')]
  if not all(names):
    raise argparse.ArgumentTypeError(
      'must be comma-separated column names such as a,b, given: %r' % text
    )
  return names


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are one line: ``tfest: error: --flag must be ...``."""

  def error(self, message):
    message = re.sub(
      r'^argument ([^:]+): (must )', lambda m: m.group(1).split('/')[-1] + ' ' + m.group(2), message
    )
    self.exit(2, 'tfest: error: %s (see: %s --help)\n' % (message, self.prog))


def _add_reading(group):
  group.add_argument(
    '--format',
    choices=readers.FORMATS,
    default=None,
    help='format of the data files (default: from the extension: .csv, .npz, .tfrecord)',
  )
  group.add_argument(
    '--feature-spec',
    metavar='SPEC.json',
    default=None,
    help='how to parse TFRecord files of tf.Example: a JSON object of column '
    'name -> dtype (float32, float64, int64, string) or {"dtype": ..., '
    '"shape": [...]}, label included',
  )


def _add_common(parser):
  group = parser.add_argument_group('output')
  group.add_argument(
    '--verbose', action='store_true', help="show TensorFlow's own log messages and warnings"
  )
  group.add_argument(
    '--debug', action='store_true', help='show the full traceback of an error instead of one line'
  )
  return group


def build_parser():
  """The argparse parser of ``tfest`` and its four subcommands."""
  parser = _Parser(
    prog='tfest',
    description='Train, evaluate, predict and export tf.estimator models from data files.',
    epilog='Run "tfest <command> --help" for the options of each command.',
  )
  parser.add_argument('--version', action='version', version='tfest ' + _version())
  commands = parser.add_subparsers(dest='command', metavar='command', parser_class=_Parser)
  commands.required = True

  train = commands.add_parser(
    'train',
    help='train a model from a data file',
    description='Train a classifier or a regressor on a CSV, .npz or TFRecord file, evaluate '
    'it, and write history.csv, history.png and tfest.json into --model-dir. '
    'Running it again on the same --model-dir continues training.',
  )
  group = train.add_argument_group('data')
  group.add_argument(
    '--train',
    required=True,
    metavar='FILE',
    help='training data: a CSV file with a header line, a .npz file, or '
    'TFRecord files (a glob pattern) with --feature-spec',
  )
  group.add_argument('--label', required=True, metavar='COLUMN', help='the label column')
  group.add_argument(
    '--eval',
    metavar='FILE',
    default=None,
    help='evaluation data with the same columns (default: evaluate on --train)',
  )
  group.add_argument(
    '--features',
    type=_names,
    default=None,
    metavar='A,B',
    help='the feature columns (default: every column but the label)',
  )
  group.add_argument(
    '--categorical',
    type=_names,
    default=None,
    metavar='A,B',
    help='columns of numbers to treat as categories (text columns always are)',
  )
  group.add_argument(
    '--no-normalize',
    dest='normalize',
    action='store_const',
    const=False,
    default=None,
    help='feed numeric columns as they are (default: standardized with the '
    'mean and standard deviation of --train)',
  )
  _add_reading(group)
  group = train.add_argument_group('model')
  group.add_argument(
    '--model-dir',
    required=True,
    metavar='DIR',
    help='checkpoints, events, tfest.json and history go here',
  )
  group.add_argument(
    '--model',
    choices=tuple(record_lib.MODEL_NAMES),
    default=None,
    help='classifier (class ids or class names as labels) or regressor: a DNN; linear or '
    'linear_regressor: a linear model, categorical columns as they are; wide_deep or '
    'wide_deep_regressor: wide and deep, the categorical columns (and --cross) in the linear '
    'part, the numeric ones and embeddings in the DNN (default: classifier, or the model '
    'already in --model-dir)',
  )
  group.add_argument(
    '--cross',
    type=_names,
    action='append',
    default=None,
    metavar='A,B',
    help='linear and wide_deep: cross these categorical columns in the linear part '
    '(repeatable, e.g. --cross education,occupation)',
  )
  group.add_argument(
    '--hidden-units',
    type=_units,
    default=None,
    metavar='N,N',
    help='units of each hidden layer (default: %s)'
    % ','.join(str(u) for u in record_lib.DEFAULT_HIDDEN_UNITS),
  )
  group.add_argument(
    '--n-classes',
    type=_positive_int,
    default=None,
    metavar='N',
    help='number of classes when labels are class ids (default: largest + 1)',
  )
  group.add_argument(
    '--optimizer',
    default=None,
    help="Adagrad, Adam, SGD, RMSProp or Ftrl (default: the template's, Adagrad)",
  )
  group.add_argument(
    '--learning-rate',
    type=_positive_float,
    default=None,
    metavar='RATE',
    help="the learning rate (default: %g, as TF 1's tf.compat.v1.estimator.DNNClassifier; "
    "tf.estimator.DNNClassifier and the Python templates use Adagrad's own 0.001, slow for "
    'small data; or the last one the model in --model-dir was trained with)'
    % record_lib.DEFAULT_LEARNING_RATE,
  )
  group.add_argument(
    '--activation',
    default=None,
    help="activation of the hidden layers, such as relu or tanh (default: the template's, relu)",
  )
  group.add_argument(
    '--dropout',
    type=_dropout,
    default=None,
    metavar='RATE',
    help='dropout rate of the hidden layers when training (default: none)',
  )
  group = train.add_argument_group('training')
  group.add_argument(
    '--steps', type=_positive_int, default=1000, help='training steps to run now (default: 1000)'
  )
  group.add_argument(
    '--batch-size',
    type=_positive_int,
    default=32,
    metavar='N',
    help='examples per training step (default: 32)',
  )
  group.add_argument(
    '--seed',
    type=_non_negative_int,
    default=None,
    help='seed for the weights and the data order (default: not seeded)',
  )
  group.add_argument(
    '--eval-every',
    type=_positive_int,
    default=None,
    metavar='STEPS',
    help='also evaluate on --eval every STEPS training steps, for the history',
  )
  group.add_argument(
    '--steps-per-run',
    type=_positive_int,
    default=None,
    metavar='K',
    help='training steps per session.run call, when the model template supports it',
  )
  _add_common(train).add_argument(
    '--no-progress', dest='progress', action='store_false', help='no progress bar'
  )

  evaluate = commands.add_parser(
    'evaluate',
    help='evaluate a trained model_dir on a data file',
    description='Evaluate the latest checkpoint of a model_dir trained by "tfest train" on a '
    'data file with the training columns and the label; print the metrics.',
  )
  evaluate.add_argument(
    '--model-dir', required=True, metavar='DIR', help='a model_dir trained by tfest train'
  )
  evaluate.add_argument(
    '--eval',
    '--input',
    dest='eval',
    required=True,
    metavar='FILE',
    help='evaluation data, with the label column',
  )
  evaluate.add_argument(
    '--batch-size',
    type=_positive_int,
    default=128,
    metavar='N',
    help='examples per evaluation step (default: 128)',
  )
  _add_reading(evaluate)
  _add_common(evaluate).add_argument(
    '--json', action='store_true', help='print the metrics as one JSON object'
  )

  predict = commands.add_parser(
    'predict',
    help='predict rows of a data file',
    description='Predict every row of a data file with a model_dir trained by "tfest train" '
    'or with a SavedModel; write one CSV row of predictions per input row.',
  )
  source = predict.add_mutually_exclusive_group(required=True)
  source.add_argument('--model-dir', metavar='DIR', help='a model_dir trained by tfest train')
  source.add_argument(
    '--saved-model', metavar='DIR', help='a SavedModel directory (from tfest export)'
  )
  predict.add_argument(
    '--input',
    required=True,
    metavar='FILE',
    help='rows to predict, with the training columns (a label column is ignored)',
  )
  predict.add_argument(
    '--output',
    metavar='FILE',
    default=None,
    help='write the predictions CSV here (default: standard output)',
  )
  predict.add_argument(
    '--batch-size',
    type=_positive_int,
    default=128,
    metavar='N',
    help='examples per prediction step (default: 128)',
  )
  _add_reading(predict)
  _add_common(predict)

  export = commands.add_parser(
    'export',
    help='export a trained model_dir as a SavedModel',
    description='Export the latest checkpoint of a model_dir trained by "tfest train" as a '
    'SavedModel, check that it predicts what the Estimator predicts, and print '
    'its directory.',
  )
  export.add_argument(
    '--model-dir', required=True, metavar='DIR', help='a model_dir trained by tfest train'
  )
  export.add_argument(
    '--export-dir',
    metavar='DIR',
    default=None,
    help='the SavedModel goes into a new timestamped directory under DIR '
    '(default: <model-dir>/export)',
  )
  export.add_argument(
    '--parse-examples',
    action='store_true',
    help='serve serialized tf.Example protos instead of raw feature tensors',
  )
  _add_common(export)
  return parser
