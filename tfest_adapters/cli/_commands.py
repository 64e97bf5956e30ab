"""The four ``tfest`` commands, each in two phases: ``prepare_*`` checks, ``run_*`` runs.

``prepare_*(args)`` reads the arguments, the data files and the run record, refuses anything
that cannot work (without building a graph or touching the model_dir) and returns a plan;
``run_*(plan)`` runs TensorFlow through the CLI's model, prints what it did and returns 0.
"""

import json
import os
import sys

from tfest_adapters import exceptions
from tfest_adapters.cli import _messages as messages
from tfest_adapters.cli import _readers as readers
from tfest_adapters.cli import _record as record_lib
from tfest_adapters.cli import _schema as schema_lib


class _Plan:
  """What a command will do, once everything has been checked (a plain attribute bag)."""

  def __init__(self, **kwargs):
    self.__dict__.update(kwargs)


def _read(args, path, arg):
  spec = None
  if args.feature_spec is not None:
    spec = readers.read_feature_spec(args.feature_spec)
  return readers.read_table(path, arg, args.format, spec)


def _print_metrics(metrics, out):
  width = max(len(k) for k in metrics)
  for key in sorted(metrics):
    value = metrics[key]
    text = '%d' % value if float(value).is_integer() and 'step' in key else '%.6g' % value
    print('  %-*s  %s' % (width, key, text), file=out)
  out.flush()


# train


def _check_family_flags(args, name, family):
  """No hidden-layer flags for a linear model; --cross only where there is a linear part."""
  if family == record_lib.LINEAR:
    for flag, value in (
      ('--hidden-units', args.hidden_units),
      ('--activation', args.activation),
      ('--dropout', args.dropout),
    ):
      if value is not None:
        messages.fail(
          '%s must be left out for --model %s, which has no hidden layers, given: %s; use '
          '--model %s for a model with hidden layers'
          % (
            flag,
            name,
            ','.join(map(str, value)) if isinstance(value, list) else value,
            ', '.join(record_lib.WITH_HIDDEN_LAYERS),
          )
        )
  if family == record_lib.DNN and args.cross:
    messages.fail(
      '--cross needs a linear part, given: --cross %s with --model %s; use --model linear '
      'or wide_deep (their _regressor for a number)' % (','.join(args.cross[0]), name)
    )


def _check_crosses(crosses, schema):
  """Each --cross names two or more distinct categorical features."""
  categorical = [f['name'] for f in schema['features'] if f['kind'] == schema_lib.CATEGORICAL]
  for cross in crosses:
    if len(cross) < 2 or len(set(cross)) != len(cross):
      messages.fail(
        '--cross must name two or more distinct columns, given: --cross %s' % ','.join(cross)
      )
    for name in cross:
      if name not in categorical:
        messages.fail(
          '--cross must name categorical columns, given: %r in --cross %s; the categorical '
          'columns are: %s (a numeric column becomes categorical with --categorical %s)'
          % (name, ','.join(cross), messages.quote_list(categorical) or 'none', name)
        )


def prepare_train(args):
  """Checks everything ``tfest train`` needs; returns its plan.

  The model_dir, the options and the data files are checked without TensorFlow; then the
  model template checks its params (TensorFlow imported, no graph built).
  """
  record = record_lib.record_for_train(args.model_dir)
  new_model = record is None
  if not new_model:
    record_lib.check_same_model(args, record)
  if args.eval_every is not None and args.eval is None:
    messages.fail(
      '--eval-every needs --eval, given: --eval-every %d without --eval' % args.eval_every
    )
  train_table = _read(args, args.train, '--train')
  if new_model:
    name = args.model or schema_lib.CLASSIFIER
    task, family = record_lib.MODEL_NAMES[name]
    if args.n_classes is not None and task == schema_lib.REGRESSOR:
      messages.fail(
        '--n-classes must be left out for --model %s, given: %d' % (name, args.n_classes)
      )
    _check_family_flags(args, name, family)
    schema = schema_lib.infer_schema(
      train_table,
      args.label,
      task,
      features=args.features,
      categorical=args.categorical or (),
      n_classes=args.n_classes,
      normalize=args.normalize is not False,
    )
    _check_crosses(args.cross or (), schema)
    record = record_lib.new_record(name, args.hidden_units, schema, args.cross or ())
  else:
    record = dict(record)
  resuming = not new_model and record_lib.has_checkpoint(args.model_dir)
  options = dict(record.get('options', {}))
  for key in ('optimizer', 'activation', 'learning_rate', 'dropout'):
    if getattr(args, key) is not None:
      options[key] = getattr(args, key)
  record['options'] = options
  train_x, train_y = schema_lib.conform(train_table, record['schema'], with_labels=True)
  eval_x = eval_y = None
  if args.eval is not None:
    eval_x, eval_y = schema_lib.conform(
      _read(args, args.eval, '--eval'), record['schema'], with_labels=True
    )
  if not resuming:
    record['sample'] = schema_lib.sample_rows(train_x)
  record['train'] = {'file': os.path.abspath(args.train), 'rows': len(train_y)}
  # Last, the model template's own check of the params (optimizer and activation names, ...):
  # this imports TensorFlow, but builds no graph.
  from tfest_adapters.cli import _model

  _model.check_params(record, args.steps_per_run)
  return _Plan(
    args=args,
    record=record,
    resuming=resuming,
    train_x=train_x,
    train_y=train_y,
    eval_x=eval_x,
    eval_y=eval_y,
  )


def run_train(plan):
  from tfest_adapters.cli import _model

  args, record = plan.args, plan.record
  out = sys.stdout
  print(
    '%s %s: %s, %s (%d training rows from %s)'
    % (
      'Continuing' if plan.resuming else 'Training',
      args.model_dir,
      record_lib.describe_model(record),
      schema_lib.describe_schema(record['schema']),
      len(plan.train_y),
      args.train,
    ),
    file=out,
    flush=True,
  )
  result = _model.train(
    record,
    args.model_dir,
    plan.train_x,
    plan.train_y,
    eval_x=plan.eval_x,
    eval_y=plan.eval_y,
    steps=args.steps,
    batch_size=args.batch_size,
    seed=args.seed,
    steps_per_run=args.steps_per_run,
    eval_every=args.eval_every,
    progress=args.progress,
    save_record=lambda r: record_lib.write_record(args.model_dir, r),
  )
  where = args.eval if args.eval is not None else args.train + ' (the training data)'
  print('Evaluation on %s at step %d:' % (where, result['metrics']['global_step']), file=out)
  _print_metrics(result['metrics'], out)
  if result['history_png']:
    print('Wrote %s and %s' % (result['history_csv'], result['history_png']), file=out)
  else:
    print(
      'Wrote %s (no plot: pip install "tfest-adapters[plot]" for history.png)'
      % result['history_csv'],
      file=out,
    )
  print('TensorBoard: tensorboard --logdir %s' % args.model_dir, file=out, flush=True)
  return 0


# evaluate


def prepare_evaluate(args):
  record = record_lib.load_record(args.model_dir)
  eval_x, eval_y = schema_lib.conform(
    _read(args, args.eval, '--eval'), record['schema'], with_labels=True
  )
  return _Plan(args=args, record=record, eval_x=eval_x, eval_y=eval_y)


def run_evaluate(plan):
  from tfest_adapters.cli import _model

  metrics = _model.evaluate(
    plan.record, plan.args.model_dir, plan.eval_x, plan.eval_y, batch_size=plan.args.batch_size
  )
  if plan.args.json:
    print(json.dumps(metrics, sort_keys=True))
  else:
    print(
      'Evaluation of %s on %s (%d rows) at step %d:'
      % (plan.args.model_dir, plan.args.eval, len(plan.eval_y), metrics['global_step'])
    )
    _print_metrics(metrics, sys.stdout)
  return 0


# predict


def _check_saved_model(path):
  """Refuses ``--saved-model`` values that are not a SavedModel directory."""
  if not os.path.isdir(path):
    messages.fail(
      '--saved-model must be a SavedModel directory, given: %r (%s)'
      % (path, 'a file' if os.path.exists(path) else 'no such directory'),
      exceptions.ModelDirError,
    )
  if not record_lib.is_saved_model(path):
    hint = ''
    if record_lib.has_checkpoint(path) or os.path.isfile(
      os.path.join(path, record_lib.RECORD_NAME)
    ):
      hint = '; it is a model_dir: use --model-dir %s' % path
    messages.fail(
      '--saved-model must be a SavedModel directory (with saved_model.pb), given: '
      '%r%s' % (path, hint),
      exceptions.ModelDirError,
    )


def prepare_predict(args):
  if args.saved_model is not None:
    _check_saved_model(args.saved_model)
    record = record_lib.record_of_saved_model(args.saved_model)
  else:
    if os.path.isdir(args.model_dir) and record_lib.is_saved_model(args.model_dir):
      messages.fail(
        '--model-dir must be a model_dir trained by tfest train, given: %r, which '
        'is a SavedModel; use --saved-model %s' % (args.model_dir, args.model_dir),
        exceptions.ModelDirError,
      )
    record = record_lib.load_record(args.model_dir)
  table = _read(args, args.input, '--input')
  if record is not None:
    features, _ = schema_lib.conform(table, record['schema'], with_labels=False)
  else:
    features = None
  if args.output is not None:
    parent = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(parent):
      messages.fail(
        '--output must be in an existing directory, given: %r (no directory %r)'
        % (args.output, parent)
      )
    if os.path.isdir(args.output):
      messages.fail('--output must be a file, given: %r (a directory)' % args.output)
  return _Plan(args=args, record=record, table=table, features=features)


def run_predict(plan):
  from tfest_adapters.cli import _model

  args = plan.args
  if args.saved_model is not None:
    frame = _model.predict_saved_model(
      args.saved_model, plan.record, plan.features, plan.table, batch_size=args.batch_size
    )
  else:
    frame = _model.predict_model_dir(
      plan.record, args.model_dir, plan.features, batch_size=args.batch_size
    )
  if args.output is None:
    frame.to_csv(sys.stdout, index=False)
  else:
    frame.to_csv(args.output, index=False)
    print('Wrote %d predictions to %s' % (len(frame), args.output))
  return 0


# export


def prepare_export(args):
  record = record_lib.load_record(args.model_dir)
  export_dir = args.export_dir or os.path.join(args.model_dir, 'export')
  if os.path.exists(export_dir) and not os.path.isdir(export_dir):
    messages.fail('--export-dir must be a directory, given: %r (a file)' % export_dir)
  return _Plan(args=args, record=record, export_dir=export_dir)


def run_export(plan):
  from tfest_adapters.cli import _model

  path = _model.export(
    plan.record, plan.args.model_dir, plan.export_dir, parse_examples=plan.args.parse_examples
  )
  record_lib.write_record(os.path.join(path, 'assets.extra'), plan.record)
  print('Exported %s to %s' % (plan.args.model_dir, path))
  print('Predict with: tfest predict --saved-model %s --input rows.csv' % path)
  return 0


# Command name -> (prepare, run).
COMMANDS = {
  'train': (prepare_train, run_train),
  'evaluate': (prepare_evaluate, run_evaluate),
  'predict': (prepare_predict, run_predict),
  'export': (prepare_export, run_export),
}
