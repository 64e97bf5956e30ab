"""The TensorFlow half of the ``tfest`` command line: the model of a run record, and its runs.

It runs on input already checked against the run record's schema, through the public API of
the other parts: ``input_fns``, ``models``, ``estimator``, ``training`` and ``serving``.
"""

import os
import re

import numpy as np

from tfest_adapters import estimator as estimator_lib
from tfest_adapters import exceptions
from tfest_adapters import input_fns
from tfest_adapters import serving
from tfest_adapters import training
from tfest_adapters.cli import _families as families
from tfest_adapters.cli import _schema as schema_lib
from tfest_adapters.keys import MetricKeys
from tfest_adapters.keys import PredictionKeys


def _as_flags(text):
  return re.sub(r'params\["(\w+)"\]', lambda m: families.FLAGS.get(m.group(1), m.group(0)), text)


def _checked(check, params):
  """``check(params)``, with the template's ``params["key"]`` named as tfest flags."""
  try:
    check(params)
  except exceptions.TfestError as e:
    raise type(e)(_as_flags(str(e))) from None


def check_params(record, steps_per_run=None):
  """Runs the model template's own params check (no graph), naming tfest flags in errors.

  ``steps_per_run`` is passed to the template only when its check accepts the key.

  Raises:
    ArgumentError, ArgumentTypeError, ArgumentKeyError: a params value the template refuses,
      or ``steps_per_run`` given to a template that does not take it.
  """
  model_fn = families.model_fn_of(record)
  check = model_fn.check_params
  params = families.params_of(record)
  _checked(check, params)
  if steps_per_run is None:
    return
  try:
    _checked(check, dict(params, steps_per_run=steps_per_run))
  except exceptions.ArgumentKeyError:  # The only new key is steps_per_run.
    raise exceptions.ArgumentError(
      '--steps-per-run needs a model template that runs several steps per session.run call, '
      'given: --steps-per-run %d, but %s of this tfest_adapters takes no steps_per_run '
      'param; leave --steps-per-run out' % (steps_per_run, model_fn.__name__)
    ) from None


def build_estimator(record, model_dir, seed=None, steps_per_run=None):
  return estimator_lib.make_estimator(
    families.model_fn_of(record),
    params=families.params_of(record, steps_per_run),
    model_dir=model_dir,
    seed=seed,
  )


def _plain(metrics):
  """Evaluation metrics as Python numbers (global_step an int)."""
  plain = {}
  for key, value in metrics.items():
    value = np.asarray(value)
    if value.size != 1:
      continue
    plain[key] = int(value) if key == MetricKeys.GLOBAL_STEP else float(value)
  return plain


def train(
  record,
  model_dir,
  train_x,
  train_y,
  eval_x=None,
  eval_y=None,
  steps=1000,
  batch_size=32,
  seed=None,
  steps_per_run=None,
  eval_every=None,
  progress=True,
  save_record=None,
):
  """Trains ``steps`` more steps, evaluates, writes the history; returns what it measured.

  Returns:
    dict with ``metrics`` (the final evaluation, on the eval data or else the training data,
    with ``global_step``), ``history_csv`` and ``history_png`` (paths; no PNG, None, without
    matplotlib).
  """
  estimator = build_estimator(record, model_dir, seed=seed, steps_per_run=steps_per_run)
  # TRAIN shuffles and repeats; EVAL makes one ordered pass (the builder is mode-aware).
  train_fn = input_fns.tensor_slices_input_fn(
    train_x, train_y, batch_size=batch_size, shuffle=True, seed=seed
  )
  if eval_x is None:
    eval_x, eval_y = train_x, train_y
  eval_fn = input_fns.tensor_slices_input_fn(eval_x, eval_y, batch_size=max(batch_size, 128))
  if save_record is not None:
    save_record(record)
  # fit evaluates every eval_every steps and, in any case, once at the end. Its History
  # continues the rows of the model_dir's event files when training resumes.
  history = training.fit(
    estimator,
    train_fn,
    steps=steps,
    eval_input_fn=eval_fn,
    eval_every_steps=eval_every,
    progress=progress,
    keep_best=eval_every is not None,
  )
  history_csv = os.path.join(model_dir, 'history.csv')
  history_png = os.path.join(model_dir, 'history.png')
  if not save_history(history, history_csv, history_png):
    history_png = None
  return dict(metrics=final_metrics(history), history_csv=history_csv, history_png=history_png)


def final_metrics(history):
  """The metrics of the last evaluation in a History, and its ``global_step``."""
  last = history.eval.iloc[-1]
  metrics = {MetricKeys.GLOBAL_STEP: int(last['step'])}
  for column in history.eval_columns:
    if not np.isnan(last[column]):
      metrics[column[len('eval_') :]] = float(last[column])
  return metrics


def save_history(history, csv_path, png_path):
  """Writes a History as CSV and, when matplotlib is installed, as a plot (PNG): True if so."""
  history.to_csv(csv_path)
  try:
    figure = history.plot()  # On a matplotlib Figure without pyplot: nothing to close.
  except ImportError:  # matplotlib is the plot extra; the CSV holds the same figures.
    return False
  figure.savefig(png_path, dpi=100)
  return True


def evaluate(record, model_dir, eval_x, eval_y, batch_size=128):
  estimator = build_estimator(record, model_dir)
  return _plain(
    estimator.evaluate(input_fns.tensor_slices_input_fn(eval_x, eval_y, batch_size=batch_size))
  )


def predict_model_dir(record, model_dir, features, batch_size=128):
  """Predictions of the latest checkpoint of ``model_dir`` as a DataFrame, one row per input."""
  estimator = build_estimator(record, model_dir)
  batches = list(
    estimator.predict(
      input_fns.tensor_slices_input_fn(features, batch_size=batch_size), yield_single_examples=False
    )
  )
  predictions = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
  return predictions_frame(record, predictions)


def predict_saved_model(path, record, features, table, batch_size=1024):
  """Predictions of a SavedModel as a DataFrame; ``record`` None for a foreign SavedModel."""
  predictor = serving.Predictor.from_saved_model(path)
  try:
    if features is None:
      features = _signature_features(table, predictor)
    return predictions_frame(record, predictor(features, batch_size=batch_size))
  finally:
    predictor.close()


def _signature_features(table, predictor):
  """The table's columns that a SavedModel tfest did not export takes, in its dtypes."""
  spec = predictor.input_spec
  features = {}
  for key in predictor.input_keys:
    if key not in table.columns:
      raise exceptions.ArgumentError(
        '%s must have the columns the SavedModel takes (%s), given: no column %r'
        % (table.name, ', '.join(predictor.input_keys), key)
      )
    values = table.columns[key]
    dtype = spec.get(key, (None,))[0]
    if dtype == 'string':
      features[key] = values.astype(str)
    elif values.dtype.kind in 'US':
      _, missing, bad = schema_lib.parse_numbers(values)
      if dtype is None and (bad.any() or missing.any()):
        features[key] = values  # A string feature of a tf.Example parsing signature.
      else:
        features[key] = schema_lib.numeric_column(table, key)
    else:
      features[key] = values
  return features


def predictions_frame(record, predictions):
  """One row per example: class and per-class probabilities, or the regression value."""
  import pandas as pd

  predictions = {key: np.asarray(value) for key, value in predictions.items()}
  if record is not None and record['model'] == schema_lib.CLASSIFIER:
    label = record['schema']['label']
    class_ids = predictions[PredictionKeys.CLASS_IDS].reshape(-1).astype(np.int64)
    probabilities = predictions[PredictionKeys.PROBABILITIES]
    if label['kind'] == schema_lib.CLASS_NAMES:
      names = list(label['vocabulary'])
      columns = {'class': [names[i] for i in class_ids]}
    else:
      names = [str(i) for i in range(label['n_classes'])]
      columns = {'class': class_ids}
    for i, name in enumerate(names):
      columns['probability_%s' % name] = probabilities[:, i]
    return pd.DataFrame(columns)
  if record is not None:
    values = predictions[PredictionKeys.PREDICTIONS]
    values = values.reshape(len(values), -1)
    if values.shape[1] == 1:
      return pd.DataFrame({'prediction': values[:, 0]})
    return pd.DataFrame({'prediction_%d' % i: values[:, i] for i in range(values.shape[1])})
  columns = {}
  for key in sorted(predictions):
    values = predictions[key]
    if values.dtype.kind == 'O' or values.dtype.kind == 'S':
      values = np.vectorize(
        lambda v: v.decode('utf-8') if isinstance(v, bytes) else v, otypes=[object]
      )(values)
    values = values.reshape(len(values), -1)
    if values.shape[1] == 1:
      columns[key] = values[:, 0]
    else:
      for i in range(values.shape[1]):
        columns['%s_%d' % (key, i)] = values[:, i]
  return pd.DataFrame(columns)


def export(record, model_dir, export_dir_base, parse_examples=False):
  """Exports the latest checkpoint as a SavedModel; returns its directory (str).

  The receiver takes raw feature tensors shaped like the sample rows kept in the run record
  (or serialized tf.Example protos with ``parse_examples``), and the export is checked by
  ``export_saved_model`` against ``Estimator.predict`` on those rows.
  """
  estimator = build_estimator(record, model_dir)
  sample = schema_lib.sample_features(record['schema'], record['sample'])
  path = serving.export_saved_model(
    estimator, export_dir_base, sample_features=sample, parse_examples=parse_examples
  )
  return path.decode('utf-8') if isinstance(path, bytes) else str(path)
