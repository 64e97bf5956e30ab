"""The run record, ``tfest.json``: what ``tfest train`` keeps in a model_dir for the other commands.

It holds the model kind, hidden units, options, the schema of the features and label, and a
sample batch for export. ``evaluate``, ``predict`` and ``export`` read it back instead of the
training file; a model_dir without one (or with a foreign one) is refused.
"""

import json
import os

from tfest_adapters import exceptions
from tfest_adapters.cli import _messages as messages
from tfest_adapters.cli import _schema as schema_lib

RECORD_NAME = 'tfest.json'
RECORD_FORMAT = 'tfest-run'
RECORD_VERSION = 1
DEFAULT_HIDDEN_UNITS = (10, 10)
DEFAULT_LEARNING_RATE = 0.05
# The template families: the DNN, the linear model, wide and deep (a run record without a
# family is a DNN's).
DNN = 'dnn'
LINEAR = 'linear'
WIDE_DEEP = 'wide_deep'
# --model -> (what the label is: the task, the family of the template).
MODEL_NAMES = {
  schema_lib.CLASSIFIER: (schema_lib.CLASSIFIER, DNN),
  schema_lib.REGRESSOR: (schema_lib.REGRESSOR, DNN),
  'linear': (schema_lib.CLASSIFIER, LINEAR),
  'linear_regressor': (schema_lib.REGRESSOR, LINEAR),
  'wide_deep': (schema_lib.CLASSIFIER, WIDE_DEEP),
  'wide_deep_regressor': (schema_lib.REGRESSOR, WIDE_DEEP),
}
_FAMILY_TEXT = {DNN: '', LINEAR: 'linear ', WIDE_DEEP: 'wide-and-deep '}
# The --model flags whose model has hidden layers (--hidden-units, --activation, --dropout).
WITH_HIDDEN_LAYERS = tuple(name for name, (_, family) in MODEL_NAMES.items() if family != LINEAR)


def _fail(text):
  messages.fail(text, exceptions.ModelDirError)


def family(record):
  """The template family of a run record: DNN, LINEAR or WIDE_DEEP."""
  return record.get('family', DNN)


def model_name(record):
  """The ``--model`` value a run record was trained with."""
  wanted = (record['model'], family(record))
  return next(name for name, value in MODEL_NAMES.items() if value == wanted)


def new_record(name, hidden_units, schema, crosses=()):
  """The run record of a new ``--model name``: ``hidden_units`` None for the default.

  ``crosses``: lists of categorical feature names, each crossed in the linear part.
  """
  task, template_family = MODEL_NAMES[name]
  return {
    'format': RECORD_FORMAT,
    'format_version': RECORD_VERSION,
    'model': task,
    'family': template_family,
    'hidden_units': [] if template_family == LINEAR else list(hidden_units or DEFAULT_HIDDEN_UNITS),
    # tf.compat.v1.estimator.DNNClassifier's rate for an optimizer named by a string (TF 2's
    # tf.estimator.DNNClassifier uses Adagrad's own 0.001, which barely moves a small network).
    # The linear model (and wide and deep's linear part) keeps canned's Ftrl and its rate.
    'options': {'learning_rate': DEFAULT_LEARNING_RATE} if template_family != LINEAR else {},
    'crosses': [list(cross) for cross in crosses],
    'schema': schema,
  }


def has_checkpoint(model_dir):
  return os.path.isfile(os.path.join(model_dir, 'checkpoint'))


def is_saved_model(path):
  return any(
    os.path.isfile(os.path.join(path, name)) for name in ('saved_model.pb', 'saved_model.pbtxt')
  )


def read_record(path, arg):
  """The run record in the file ``path``, named ``arg`` in messages; refuses other files."""
  try:
    with open(path, encoding='utf-8') as f:
      record = json.load(f)
  except (OSError, ValueError) as e:
    _fail('%s must hold a readable %s, given: %r (%s)' % (arg, RECORD_NAME, path, e))
  if not isinstance(record, dict) or record.get('format') != RECORD_FORMAT:
    _fail(
      '%s must hold a %s written by tfest train, given: %r, which is not one'
      % (arg, RECORD_NAME, path)
    )
  if record.get('format_version') != RECORD_VERSION:
    _fail(
      '%s must hold a %s of format version %d, given: %r of version %r; train a new '
      'model_dir with this tfest'
      % (arg, RECORD_NAME, RECORD_VERSION, path, record.get('format_version'))
    )
  return record


def write_record(directory, record):
  """Writes ``record`` as ``directory/tfest.json`` (atomically), creating ``directory``."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, RECORD_NAME)
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    json.dump(record, f, indent=1, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


def load_record(model_dir, arg='--model-dir'):
  """The run record of a model_dir trained by ``tfest train``, which must have a checkpoint."""
  if not os.path.exists(model_dir):
    _fail(
      '%s must be a model_dir trained by tfest train, given: %r (no such directory)'
      % (arg, model_dir)
    )
  if not os.path.isdir(model_dir):
    _fail('%s must be a model_dir trained by tfest train, given: %r (a file)' % (arg, model_dir))
  if is_saved_model(model_dir):
    _fail(
      '%s must be a model_dir trained by tfest train, given: %r, which is a SavedModel; '
      'use tfest predict --saved-model %s' % (arg, model_dir, model_dir)
    )
  path = os.path.join(model_dir, RECORD_NAME)
  if not os.path.isfile(path):
    if has_checkpoint(model_dir):
      _fail(
        '%s must be a model_dir trained by tfest train, given: %r, which holds a checkpoint '
        'but no %s (another program trained it, so its features and label are unknown)'
        % (arg, model_dir, RECORD_NAME)
      )
    _fail(
      '%s must be a model_dir trained by tfest train, given: %r, which holds no %s and no '
      'checkpoint; run tfest train --model-dir %s first' % (arg, model_dir, RECORD_NAME, model_dir)
    )
  record = read_record(path, arg)
  if not has_checkpoint(model_dir):
    _fail(
      '%s must hold a checkpoint, given: %r, which has none yet; run tfest train '
      '--model-dir %s first' % (arg, model_dir, model_dir)
    )
  return record


def record_for_train(model_dir):
  """The run record of ``--model-dir`` when training goes on in it, None for a new model."""
  if not os.path.exists(model_dir):
    return None
  if not os.path.isdir(model_dir):
    _fail('--model-dir must be a directory, given: %r (a file)' % model_dir)
  if is_saved_model(model_dir):
    _fail(
      '--model-dir must be a model_dir, given: %r, which is a SavedModel; pass a new '
      'directory' % model_dir
    )
  path = os.path.join(model_dir, RECORD_NAME)
  if os.path.isfile(path):
    return read_record(path, '--model-dir')
  if has_checkpoint(model_dir):
    _fail(
      '--model-dir must be new or trained by tfest train, given: %r, which holds a '
      'checkpoint but no %s (another program trained it; its model is unknown); pass a new '
      '--model-dir' % (model_dir, RECORD_NAME)
    )
  return None


def record_of_saved_model(path):
  """The run record that ``tfest export`` copied into a SavedModel, or None."""
  record_path = os.path.join(path, 'assets.extra', RECORD_NAME)
  if os.path.isfile(record_path):
    return read_record(record_path, '--saved-model')
  return None


def describe_model(record):
  """'a classifier with hidden units 10,10 on features SepalLength, ... and 3 classes'."""
  label = record['schema']['label']
  text = 'a %s%s%s on features %s' % (
    _FAMILY_TEXT[family(record)],
    record['model'],
    ' with hidden units %s' % ','.join(str(u) for u in record['hidden_units'])
    if record['hidden_units']
    else '',
    ', '.join(f['name'] for f in record['schema']['features']),
  )
  if record.get('crosses'):
    text += ', crossing %s' % '; '.join('x'.join(c) for c in record['crosses'])
  if record['model'] == schema_lib.CLASSIFIER:
    text += ' and %d classes' % label['n_classes']
  return text


def check_same_model(args, record):
  """Refuses ``tfest train`` options that contradict the model already in ``--model-dir``."""
  schema = record['schema']
  categorical = sorted(f['name'] for f in schema['features'] if f['kind'] == schema_lib.CATEGORICAL)
  normalized = any('mean' in f for f in schema['features'])
  checks = [
    ('--model', args.model, model_name(record)),
    ('--hidden-units', args.hidden_units, record['hidden_units']),
    ('--cross', args.cross, record.get('crosses', [])),
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
      _refuse_other_model(
        args.model_dir,
        record,
        'with ' + (recorded if recorded.startswith('no ') else '%s %s' % (flag, recorded)),
        '%s %s' % (flag, _flag_text(given, flag)),
        flag,
      )
  if args.normalize is False and normalized:
    _refuse_other_model(
      args.model_dir, record, 'on standardized numeric columns', '--no-normalize', '--no-normalize'
    )


def _flag_text(value, flag):
  if value is None:
    return "no %s (the template's default)" % flag
  if isinstance(value, list) and value and isinstance(value[0], list):  # --cross a,b --cross c,d
    return ' %s ' % flag.join(','.join(v) for v in value)
  if isinstance(value, list):
    return ','.join(str(v) for v in value)
  return str(value)


def _refuse_other_model(model_dir, record, trained, given, flag):
  _fail(
    '--model-dir %s already holds %s, trained %s, given: %s; pass a new --model-dir, or '
    'leave %s out to continue training that model'
    % (model_dir, describe_model(record), trained, given, flag)
  )
