"""The catalogue of bad inputs: each refused clearly, early, without touching checkpoints.

Every case below feeds one bad input to the public API and checks

* the error: its class (a ``TfestError``, also the built-in class the same mistake raises in
  TensorFlow) and its message, which names the argument, what was expected and what was
  given (the ``says`` fragments, in order);
* when it comes: ``call`` (the call refuses it, before any graph), ``graph`` (while the
  Estimator builds the graph, before any session) or ``step`` (data seen only when a batch
  runs: the first training step fails, before anything is saved);
* that the model_dirs around are untouched: every file keeps its size and mtime, no file is
  added (for ``graph`` and ``step``, only TensorBoard's event file may grow), and no lock is
  left behind.

The table in docs/bad_inputs.md is generated from CASES (``python tests/test_bad_inputs.py``)
and a test checks that it has not drifted.
"""

import collections
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / 'docs' / 'bad_inputs.md'

WHEN = collections.OrderedDict(
  [
    ('call', "by the call itself, before the model's graph is built"),
    ('graph', 'while the Estimator builds the graph, before any session'),
    ('step', 'at the first training step, before anything is saved'),
  ]
)

# error: the name of the class in tfest_adapters.exceptions (the table is built without TF).
Case = collections.namedtuple('Case', 'id api bad error says when run xfail')

CASES = []


def case(id_, api, bad, error, says, when, xfail=None):
  """Registers the decorated ``run(env)`` as a catalogue case."""

  def register(run):
    CASES.append(Case(id_, api, bad, error, tuple(says), when, run, xfail))
    return run

  return register


def _tfa():
  import tfest_adapters as tfa

  return tfa


def _exceptions():
  from tfest_adapters import exceptions

  return exceptions


# ------------------------------------------------------------------------- input_fns

ROWS = 64
BATCH = 16


def _features():
  rng = np.random.RandomState(0)
  x = rng.normal(size=(ROWS, 4)).astype(np.float32)
  return {'f%d' % i: x[:, i] for i in range(4)}


def _labels():
  x = np.stack([_features()['f%d' % i] for i in range(3)], axis=1)
  return np.argmax(x, axis=1).astype(np.int64)


@case(
  'numpy-length-mismatch',
  'numpy_input_fn(x, y)',
  'x has 64 rows, y has 63',
  'ArgumentError',
  ['Length of tensors in x and y is mismatched', "Shapes in x: {'f0': (64,)", 'Shapes in y: (63,)'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels[:-1], shuffle=False)


@case(
  'numpy-empty-array',
  'numpy_input_fn(x)',
  'x = np.array([]) (no rows)',
  'ArgumentError',
  ['x cannot be an empty array'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(np.array([]), shuffle=False)


@case(
  'numpy-empty-dict',
  'numpy_input_fn(x)',
  'x = {} (no features)',
  'ArgumentError',
  ['x cannot be an empty dict'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn({}, env.labels, shuffle=False)


@case(
  'numpy-list-column',
  'numpy_input_fn(x)',
  "x['a'] is a Python list, not an array",
  'ArgumentTypeError',
  ["x['a'] must be a numpy array, given: [1.0, 2.0] (list)", 'Convert it with np.asarray'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn({'a': [1.0, 2.0]}, np.array([0, 1]), shuffle=False)


@case(
  'numpy-object-array',
  'numpy_input_fn(x)',
  "x['a'] is an object array of dicts (not numbers or strings)",
  'ArgumentTypeError',
  ["x['a'] must be numeric, bool or string values", 'Found {} (dict)'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn({'a': np.array([{}, {}], dtype=object)}, np.array([0, 1]), shuffle=False)


@case(
  'tensor-slices-object-array',
  'tensor_slices_input_fn(features, labels)',
  "features['a'] is an object array of dicts",
  'ArgumentTypeError',
  ["features['a'] must be numeric, bool or string values", 'Found {} (dict)'],
  'call',
)
def _(env):
  _tfa().tensor_slices_input_fn({'a': np.array([{}, {}], dtype=object)}, np.array([0, 1]))


@case(
  'numpy-batch-size-zero',
  'numpy_input_fn(batch_size=0)',
  'batch_size = 0',
  'ArgumentError',
  ['batch_size must be a positive int, given: 0'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels, batch_size=0, shuffle=False)


@case(
  'numpy-batch-size-negative',
  'numpy_input_fn(batch_size=-5)',
  'batch_size = -5',
  'ArgumentError',
  ['batch_size must be a positive int, given: -5'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels, batch_size=-5, shuffle=False)


@case(
  'numpy-num-epochs-negative',
  'numpy_input_fn(num_epochs=-1)',
  'num_epochs = -1',
  'ArgumentError',
  ['num_epochs must be None (repeat forever) or a non-negative int, given: -1'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels, num_epochs=-1, shuffle=False)


@case(
  'numpy-shuffle-not-bool',
  "numpy_input_fn(shuffle='yes')",
  "shuffle = 'yes'",
  'ArgumentError',
  ['shuffle must be provided and explicitly set as boolean', 'got yes'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels, shuffle='yes')


@case(
  'numpy-shuffle-missing',
  'numpy_input_fn(x, y)',
  'shuffle not given',
  'ArgumentError',
  ['shuffle must be provided and explicitly set as boolean', 'got None'],
  'call',
)
def _(env):
  _tfa().numpy_input_fn(env.features, env.labels)


@case(
  'tensor-slices-rows-mismatch',
  'tensor_slices_input_fn(features, labels)',
  'features have 64 rows, labels 63',
  'ArgumentError',
  [
    'features and labels must have the same number of rows, given: ',
    "features['f0']: 64",
    'labels: 63',
  ],
  'call',
)
def _(env):
  _tfa().tensor_slices_input_fn(env.features, env.labels[:-1])


@case(
  'pandas-index-mismatch',
  'pandas_input_fn(x, y)',
  "y's index differs from x's",
  'ArgumentError',
  ['Index for x and y are mismatched', 'Index for x: RangeIndex', 'Index for y: Index([100, 101'],
  'call',
)
def _(env):
  x = pd.DataFrame(env.features)
  _tfa().pandas_input_fn(x, pd.Series(env.labels, index=np.arange(100, 100 + ROWS)), shuffle=False)


@case(
  'csv-missing-file',
  'csv_input_fn(file_pattern)',
  'a path matching no file',
  'ArgumentError',
  ['file_pattern must be a pattern matching at least one file, given: ', '/nonexistent/iris.csv'],
  'call',
)
def _(env):
  _tfa().csv_input_fn('/nonexistent/iris.csv', label_key='Species', batch_size=8)


# ------------------------------------------------------------------------ model params


@case(
  'params-unknown-key',
  'make_estimator(classifier_model_fn, params)',
  "params has 'hiden_units' (a typo)",
  'ArgumentKeyError',
  [
    "params has an unknown key 'hiden_units' for classifier_model_fn (did you mean "
    "'hidden_units'?)",
    'Accepted keys: ',
  ],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, hiden_units=[4]))


def _model_fn_without_params(features, labels, mode):
  del features, labels, mode


@case(
  'params-not-accepted',
  'make_estimator(model_fn, params)',
  'params for a model_fn without a params argument',
  'ArgumentError',
  [
    'params were given',
    'but model_fn _model_fn_without_params takes no `params` argument '
    '(its arguments are features, labels, mode)',
    'Add a `params` argument',
  ],
  'call',
)
def _(env):
  _tfa().make_estimator(
    _model_fn_without_params, params={'learning_rate': 0.1}, model_dir=env.model_dir
  )


@case(
  'optimizer-unknown',
  'make_estimator(classifier_model_fn, params)',
  "params['optimizer'] = 'Adamm'",
  'ArgumentError',
  [
    "params[\"optimizer\"] must be one of 'Adagrad', 'Adam', 'Ftrl', 'RMSProp', 'SGD' (any case)",
    "given: 'Adamm'",
  ],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, optimizer='Adamm'))


@case(
  'hidden-units-non-int',
  'make_estimator(classifier_model_fn, params)',
  "params['hidden_units'] = [10, 'a']",
  'ArgumentError',
  [
    'params["hidden_units"] must be a list of positive ints, given: [10, \'a\'] (list)',
    'e.g. [10, 10]',
  ],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, hidden_units=[10, 'a']))


@case(
  'hidden-units-zero',
  'make_estimator(classifier_model_fn, params)',
  "params['hidden_units'] = [0]",
  'ArgumentError',
  ['params["hidden_units"] must be a list of positive ints, given: [0]'],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, hidden_units=[0]))


@case(
  'hidden-units-empty',
  'make_estimator(classifier_model_fn, params)',
  "params['hidden_units'] = []",
  'ArgumentError',
  [
    'params["hidden_units"] must be a non-empty list of positive ints, given: []',
    'for a linear model use linear_classifier_model_fn',
  ],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, hidden_units=[]))


@case(
  'hidden-units-not-a-list',
  'make_estimator(classifier_model_fn, params)',
  "params['hidden_units'] = 10",
  'ArgumentError',
  ['params["hidden_units"] must be a list of positive ints, given: 10'],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, hidden_units=10))


@case(
  'n-classes-one',
  'make_estimator(classifier_model_fn, params)',
  "params['n_classes'] = 1",
  'ArgumentError',
  ['params["n_classes"] must be an int >= 2, given: 1', 'a classifier needs at least two classes'],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, n_classes=1))


@case(
  'label-vocabulary-size',
  'make_estimator(classifier_model_fn, params)',
  "2 names in params['label_vocabulary'] for n_classes=3",
  'ArgumentError',
  ["params[\"label_vocabulary\"] must be a list of n_classes=3 names, given: ['a', 'b']"],
  'call',
)
def _(env):
  env.classifier(params=dict(env.params, label_vocabulary=['a', 'b']))


@case(
  'params-not-deep-copyable',
  'make_estimator(params)',
  "params['lock'] is a threading.Lock (the Estimator deep-copies params)",
  'ArgumentError',
  [
    "params['lock'] must be a value the Estimator can deep-copy (it copies params), given: ",
    'copy.deepcopy failed with TypeError',
    'Put a value that can be copied there',
  ],
  'call',
)
def _(env):
  import threading

  env.classifier(params=dict(env.params, lock=threading.Lock()))


@case(
  'spec-without-loss',
  'fit(estimator)',
  'a model_fn whose TRAIN spec has no loss',
  'SpecError',
  ['TRAIN spec has no loss: return EstimatorSpec(mode, loss=loss, train_op='],
  'graph',
)
def _(env):
  import tensorflow as tf

  sys.path.insert(0, str(REPO_ROOT / 'tests'))
  from conftest import boring_model_fn

  def model_fn(features, labels, mode, params):
    spec = boring_model_fn(features, labels, mode, params)
    if mode != tf.estimator.ModeKeys.TRAIN:
      return spec
    return tf.estimator.EstimatorSpec(mode, predictions=spec.predictions, train_op=spec.train_op)

  env.fit(_tfa().make_estimator(model_fn, params={}, model_dir=env.empty_dir))


# ------------------------------------------------------------------ features and labels


@case(
  'float-labels-classifier',
  'fit(classifier)',
  'float labels (0.0, 1.0, 2.0)',
  'ArgumentTypeError',
  [
    'labels (TRAIN) must be int class ids 0..2 (n_classes=3), given: ',
    'float32',
    'Cast whole-number labels to int',
  ],
  'graph',
)
def _(env):
  env.fit(env.classifier(), labels=env.labels.astype(np.float32))


@case(
  'string-labels-no-vocabulary',
  'fit(classifier)',
  "string labels ('setosa', ...) without label_vocabulary",
  'ArgumentTypeError',
  [
    'labels (TRAIN) must be int class ids 0..2 (n_classes=3), given: ',
    'string',
    "String labels need label_vocabulary (the class names, e.g. params['label_vocabulary']",
  ],
  'graph',
)
def _(env):
  names = np.array(['setosa', 'versicolor', 'virginica'])
  env.fit(env.classifier(), labels=names[env.labels])


@case(
  'missing-feature',
  'fit(classifier)',
  "the input has no 'f3', which the model uses",
  'ArgumentKeyError',
  [
    'features has no \'f3\', which params["feature_keys"] uses; the input_fn returned '
    "features ['f0', 'f1', 'f2']"
  ],
  'graph',
)
def _(env):
  env.fit(env.classifier(), features={k: v for k, v in env.features.items() if k != 'f3'})


def _first_batch_label_range():
  labels = _labels()[:BATCH] + 1
  return int(labels.min()), int(labels.max())


@case(
  'labels-out-of-range',
  'fit(classifier)',
  'labels 1..3 for n_classes=3',
  'TrainingError',
  [
    'Training step 11 failed: labels must be class ids from 0 to 2 (n_classes=3); given a '
    'batch with labels from %d to %d' % _first_batch_label_range(),
    'Nothing from that step on was saved: the latest checkpoint, ',
    'model.ckpt-10 (step 10), is intact',
  ],
  'step',
)
def _(env):
  env.fit(env.classifier(), labels=env.labels + 1)


@case(
  'nan-labels',
  'fit(regressor)',
  'a NaN label in the first batch',
  'TrainingError',
  [
    'The training loss was NaN at global step 11',
    'model.ckpt-10 (step 10), is intact',
    'The batch held non-finite values in labels (features were finite)',
  ],
  'step',
)
def _(env):
  labels = env.labels.astype(np.float32)
  labels[3] = np.nan
  env.fit(env.regressor(), labels=labels)


@case(
  'nan-features-check-numerics',
  'fit(check_numerics=True)',
  "a NaN in features['f1'] of the first batch",
  'TrainingError',
  [
    "check_numerics: features['f1'] held NaN values in the batch of global step 11",
    'The step was not taken and nothing after it was saved',
    'model.ckpt-10 (step 10), is intact',
  ],
  'step',
)
def _(env):
  features = dict(env.features)
  features['f1'] = features['f1'].copy()
  features['f1'][5] = np.nan
  env.fit(env.classifier(), features=features, check_numerics=True)


# -------------------------------------------------------------------- model_dir, config


@case(
  'model-dir-other-model',
  'fit(estimator)',
  "model_dir holds another model's checkpoint (variables missing)",
  'ModelDirError',
  [
    'holds a checkpoint of another model',
    'model.ckpt-10): it lacks 2 variable(s) of this model: logits/kernel [4, 3], logits/bias [3]',
    'Nothing was changed',
    'Train this model in a new model_dir',
  ],
  'graph',
)
def _(env):
  sys.path.insert(0, str(REPO_ROOT / 'tests'))
  from conftest import boring_model_fn

  estimator = _tfa().make_estimator(boring_model_fn, params={}, model_dir=env.model_dir)
  env.fit(estimator)


@case(
  'model-dir-other-shapes',
  'fit(estimator)',
  'hidden_units [5] on a model_dir trained with [4]',
  'ModelDirError',
  [
    'holds a checkpoint of another model',
    'differ: dnn/hiddenlayer_0/kernel: float32 '
    '[4, 4] in the checkpoint, float32 [4, 5] in the model',
  ],
  'graph',
)
def _(env):
  env.fit(env.classifier(params=dict(env.params, hidden_units=[5])))


_OTHER_SHAPES = [
  'holds a checkpoint of another model',
  'differ: dnn/hiddenlayer_0/kernel: float32 [4, 4] in the checkpoint, float32 [4, 5] in the model',
  'Nothing was changed',
]


@case(
  'evaluate-other-model',
  'estimator.evaluate(input_fn)',
  'hidden_units [5] on a model_dir trained with [4]',
  'ModelDirError',
  _OTHER_SHAPES,
  'graph',
)
def _(env):
  env.classifier(params=dict(env.params, hidden_units=[5])).evaluate(env.eval_fn())


@case(
  'predict-other-model',
  'estimator.predict(input_fn)',
  'hidden_units [5] on a model_dir trained with [4]',
  'ModelDirError',
  _OTHER_SHAPES,
  'graph',
)
def _(env):
  estimator = env.classifier(params=dict(env.params, hidden_units=[5]))
  list(estimator.predict(_tfa().numpy_input_fn(env.features, shuffle=False)))


@case(
  'export-other-model',
  'export_saved_model(estimator)',
  'hidden_units [5] on a model_dir trained with [4]',
  'ModelDirError',
  _OTHER_SHAPES,
  'graph',
)
def _(env):
  _tfa().export_saved_model(
    env.classifier(params=dict(env.params, hidden_units=[5])),
    env.export_base,
    sample_features={k: v[:2] for k, v in env.features.items()},
  )


@case(
  'predictor-other-model',
  'Predictor.from_estimator(estimator)',
  'hidden_units [5] on a model_dir trained with [4]',
  'ModelDirError',
  _OTHER_SHAPES,
  'graph',
)
def _(env):
  _tfa().Predictor.from_estimator(
    env.classifier(params=dict(env.params, hidden_units=[5])),
    {k: v[:2] for k, v in env.features.items()},
  )


@case(
  'model-dir-is-a-file',
  'make_estimator(model_dir)',
  'model_dir is an existing file',
  'ArgumentError',
  [
    'model_dir must be a directory, or a path where one can be created, given: ',
    'A file is already there',
  ],
  'call',
)
def _(env):
  env.classifier(model_dir=env.a_file)


@case(
  'warm-start-missing',
  'make_estimator(warm_start_from)',
  'warm_start_from a path that does not exist',
  'ArgumentError',
  [
    'warm_start_from must be an existing checkpoint prefix',
    "given: '/nonexistent/ckpt'",
    'Nothing to warm-start from was found there',
  ],
  'call',
)
def _(env):
  env.classifier(warm_start_from='/nonexistent/ckpt')


@case(
  'checkpoints-steps-and-secs',
  'make_estimator(**run_config_options)',
  'save_checkpoints_steps=10 and save_checkpoints_secs=60',
  'ArgumentError',
  [
    'save_checkpoints_steps and save_checkpoints_secs cannot both be set, given: '
    'save_checkpoints_steps=10, save_checkpoints_secs=60'
  ],
  'call',
)
def _(env):
  env.classifier(save_checkpoints_steps=10, save_checkpoints_secs=60)


@case(
  'run-config-typo',
  'make_estimator(**run_config_options)',
  'save_checkpoint_steps (a typo)',
  'ArgumentError',
  [
    "'save_checkpoint_steps' is not a make_estimator argument nor a tf.estimator.RunConfig "
    "option; did you mean 'save_checkpoints_steps'?"
  ],
  'call',
)
def _(env):
  env.classifier(save_checkpoint_steps=10)


@case(
  'fit-steps-zero',
  'fit(steps=0)',
  'steps = 0',
  'ArgumentError',
  ['steps must be a positive int, given: 0'],
  'call',
)
def _(env):
  _tfa().fit(env.classifier(), env.train_fn(), steps=0, progress=False)


@case(
  'fit-max-steps-reached',
  'fit(max_steps=5)',
  'max_steps below the checkpoint (step 10)',
  'ModelDirError',
  [
    'max_steps=5 is already reached: the latest checkpoint in ',
    'is at step 10',
    'Pass a larger max_steps, steps=N to train N more steps',
  ],
  'call',
)
def _(env):
  _tfa().fit(env.classifier(), env.train_fn(), max_steps=5, progress=False)


@case(
  'fit-endless-input',
  'fit(estimator, train_input_fn)',
  'a repeating input without steps or max_steps',
  'ArgumentError',
  [
    'train_input_fn repeats forever (its dataset has ',
    'batches: endless in practice), so training would never end. Pass steps or max_steps',
  ],
  'call',
)
def _(env):
  _tfa().fit(env.classifier(), env.train_fn(), progress=False)


@case(
  'fit-check-numerics-not-bool',
  "fit(check_numerics='yes')",
  "check_numerics = 'yes'",
  'ArgumentTypeError',
  ["check_numerics must be a bool, given: 'yes'"],
  'call',
)
def _(env):
  _tfa().fit(env.classifier(), env.train_fn(), steps=5, progress=False, check_numerics='yes')


@case(
  'fit-model-dir-locked',
  'fit(estimator)',
  'model_dir in use by another training process',
  'ModelDirError',
  [
    'is locked by another training: PID ',
    ' on host ',
    'and it is still running',
    "Two trainings in one model_dir overwrite each other's checkpoints",
  ],
  'call',
)
def _(env):
  # _lock.py loaded by its path: the package tfest_adapters.training imports TensorFlow.
  holder = subprocess.Popen(
    [
      sys.executable,
      '-c',
      'import importlib.util, sys; sys.path.insert(0, %r); '
      'spec = importlib.util.spec_from_file_location("_lock", %r); '
      '_lock = importlib.util.module_from_spec(spec); spec.loader.exec_module(_lock); '
      'lock = _lock.ModelDirLock(%r).acquire(); print("held", flush=True); '
      'sys.stdin.readline(); lock.release()'
      % (
        str(REPO_ROOT),
        str(REPO_ROOT / 'tfest_adapters' / 'training' / '_lock.py'),
        env.model_dir,
      ),
    ],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    text=True,
  )
  try:
    assert holder.stdout.readline().strip() == 'held'
    env.fit(env.classifier())
  finally:
    holder.stdin.close()
    holder.wait(timeout=30)
    holder.stdout.close()


@case(
  'train-and-evaluate-no-checkpoints',
  'train_and_evaluate(estimator)',
  'a RunConfig that saves no checkpoint',
  'ArgumentError',
  [
    'train_and_evaluate evaluates each checkpoint, but the RunConfig saves none '
    '(save_checkpoints_steps and save_checkpoints_secs are both None). Set one of them'
  ],
  'call',
)
def _(env):
  estimator = env.classifier(save_checkpoints_steps=None, save_checkpoints_secs=None)
  _tfa().train_and_evaluate(estimator, env.train_fn(), env.eval_fn(), max_steps=20)


@case(
  'train-and-evaluate-endless-eval',
  'train_and_evaluate(estimator)',
  'an eval input that repeats forever, without eval_steps',
  'ArgumentError',
  ['eval input_fn repeats forever', 'so evaluation would never end. Pass eval_steps'],
  'call',
)
def _(env):
  _tfa().train_and_evaluate(env.classifier(), env.train_fn(), env.train_fn(), max_steps=20)


# ---------------------------------------------------------------------- export, predict


@case(
  'export-before-checkpoint',
  'export_saved_model(estimator)',
  'an Estimator that was never trained',
  'ExportError',
  ['Cannot export: no checkpoint in model_dir', 'Train it first'],
  'call',
)
def _(env):
  estimator = env.classifier(model_dir=env.empty_dir)
  _tfa().export_saved_model(
    estimator, env.export_base, sample_features={k: v[:2] for k, v in env.features.items()}
  )


@case(
  'predictor-missing-key',
  'Predictor(features)',
  "features without 'f3'",
  'ArgumentKeyError',
  [
    "features is missing 'f3'; the model expects keys: 'f0', 'f1', 'f2', 'f3'; given keys: "
    "'f0', 'f1', 'f2'"
  ],
  'call',
)
def _(env):
  env.predictor({k: v[:2] for k, v in env.features.items() if k != 'f3'})


@case(
  'predictor-wrong-shape',
  'Predictor(features)',
  "features['f0'] of shape (2, 3)",
  'ArgumentError',
  ["features['f0'] must have shape (n,) (n rows), given shape (2, 3)"],
  'call',
)
def _(env):
  features = {k: v[:2] for k, v in env.features.items()}
  features['f0'] = np.zeros((2, 3), np.float32)
  env.predictor(features)


@case(
  'predictor-dtype-changed',
  'Predictor(features)',
  "strings for the float feature 'f0'",
  'ArgumentError',
  ["features['f0'] must be float32 (or numbers that cast to it), given dtype <U3"],
  'call',
)
def _(env):
  features = {k: v[:2] for k, v in env.features.items()}
  features['f0'] = np.array(['5.1', '4.9'])
  env.predictor(features)


@case(
  'predictor-array-for-named-inputs',
  'Predictor(features)',
  'one array for a model of four named inputs',
  'ArgumentTypeError',
  [
    'features must be a dict of arrays (feature name -> values) or a pandas DataFrame (an '
    "array only for a model of one input; this one takes 'f0', 'f1', 'f2', 'f3'), given: "
  ],
  'call',
)
def _(env):
  env.predictor(np.zeros((2, 4), np.float32))


@case(
  'predictor-not-a-saved-model',
  'Predictor.from_saved_model(path)',
  'a directory without a SavedModel',
  'ArgumentError',
  [
    'path must be a SavedModel directory (holding saved_model.pb), or an export base '
    'directory holding timestamped exports, given: '
  ],
  'call',
)
def _(env):
  _tfa().Predictor.from_saved_model(env.empty_dir)


# ------------------------------------------------------------------------------- env


class Env:
  """Trained model_dirs and an export the cases use (and must leave as they are)."""

  def __init__(self, root):
    tfa = _tfa()
    self.features = _features()
    self.labels = _labels()
    self.params = dict(feature_keys=sorted(self.features), hidden_units=[4], n_classes=3)
    self.model_dir = str(root / 'classifier')
    self.regressor_dir = str(root / 'regressor')
    self.empty_dir = str(root / 'empty')
    self.export_base = str(root / 'export')
    os.makedirs(self.empty_dir)
    self.a_file = str(root / 'a_file')
    with open(self.a_file, 'w') as f:
      f.write('not a directory')
    tfa.fit(self.classifier(), self.train_fn(), max_steps=10, progress=False)
    tfa.fit(
      self.regressor(),
      self.train_fn(labels=self.labels.astype(np.float32)),
      max_steps=10,
      progress=False,
    )
    path = tfa.export_saved_model(
      self.classifier(),
      self.export_base,
      sample_features={k: v[:2] for k, v in self.features.items()},
    )
    self.predictor = tfa.Predictor.from_saved_model(path)
    self.directories = [self.model_dir, self.regressor_dir, self.empty_dir, self.export_base]

  def classifier(self, params=None, model_dir=None, **options):
    options.setdefault('save_checkpoints_steps', 5)
    return _tfa().make_estimator(
      _tfa().classifier_model_fn,
      params=params or self.params,
      model_dir=model_dir or self.model_dir,
      seed=0,
      **options,
    )

  def regressor(self):
    # One step per run: the NaN guard names the step itself (with K > 1, the last step of
    # the run, whose reported loss is the mean of its steps': docs/throughput.md).
    params = dict(feature_keys=sorted(self.features), hidden_units=[4], steps_per_run=1)
    return _tfa().make_estimator(
      _tfa().regressor_model_fn,
      params=params,
      model_dir=self.regressor_dir,
      seed=0,
      save_checkpoints_steps=5,
    )

  def train_fn(self, features=None, labels=None):
    return _tfa().numpy_input_fn(
      self.features if features is None else features,
      self.labels if labels is None else labels,
      batch_size=BATCH,
      num_epochs=None,
      shuffle=False,
    )

  def eval_fn(self):
    return _tfa().numpy_input_fn(self.features, self.labels, batch_size=ROWS, shuffle=False)

  def fit(self, estimator, features=None, labels=None, **kwargs):
    return _tfa().fit(estimator, self.train_fn(features, labels), steps=5, progress=False, **kwargs)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
  environment = Env(tmp_path_factory.mktemp('bad_inputs'))
  yield environment
  environment.predictor.close()


def _files(directory):
  """{relative path: (size, mtime_ns)} of every file under ``directory``."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      stat = os.stat(path)
      found[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns)
  return found


def _is_event_file(name):
  return os.path.basename(name).startswith('events.out.tfevents.')


def _params():
  params = []
  for c in CASES:
    marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    params.append(pytest.param(c, id=c.id, marks=marks))
  return params


def _pattern(says):
  return '.*'.join(re.escape(part) for part in says)


@pytest.mark.parametrize('bad', _params())
def test_bad_input_is_refused_clearly_and_touches_no_checkpoint(env, bad):
  from tfest_adapters.training import _lock

  exceptions = _exceptions()
  before = {d: _files(d) for d in env.directories}
  with pytest.raises(getattr(exceptions, bad.error)) as info:
    bad.run(env)
  assert isinstance(info.value, exceptions.TfestError)
  assert re.search(_pattern(bad.says), str(info.value), re.S), str(info.value)
  for directory in env.directories:
    after = _files(directory)
    if bad.when == 'call':
      assert after == before[directory], directory
    else:
      kept = {k: v for k, v in before[directory].items() if not _is_event_file(k)}
      assert {k: after.get(k) for k in kept} == kept, directory
      added = set(after) - set(before[directory])
      assert all(_is_event_file(name) for name in added), added
    assert _lock.holder(directory) is None


def test_the_catalogue_covers_the_public_api_with_at_least_25_cases():
  assert len(CASES) >= 25
  assert len({c.id for c in CASES}) == len(CASES)
  apis = {c.api.split('(')[0] for c in CASES}
  assert {
    'numpy_input_fn',
    'tensor_slices_input_fn',
    'pandas_input_fn',
    'csv_input_fn',
    'make_estimator',
    'fit',
    'train_and_evaluate',
    'export_saved_model',
    'Predictor',
  } <= apis
  assert all(c.when in WHEN for c in CASES)


# --------------------------------------------------------------------------- the doc


def _cell(text):
  return text.replace('|', '\\|').replace('\n', ' ')


def _code(text):
  """A Markdown code span, with double backticks around text that holds one."""
  text = _cell(text.strip())
  return '`` %s ``' % text if '`' in text else '`%s`' % text


def render_markdown():
  """docs/bad_inputs.md, from CASES."""
  lines = [
    '# Bad inputs and the errors they get',
    '',
    '<!-- Generated from tests/test_bad_inputs.py by `python tests/test_bad_inputs.py`; '
    'tests/test_bad_inputs.py checks that it matches. Do not edit by hand. -->',
    '',
    'Each row is a test in `tests/test_bad_inputs.py`: the bad input is given to the public '
    'API, the error must be of the class shown (every one is a `tfest_adapters.TfestError`, '
    'and also the built-in exception the same mistake raises in TensorFlow: '
    '`ArgumentError` is a `ValueError`, `ArgumentTypeError` a `TypeError`, '
    '`ArgumentKeyError` a `KeyError`) and its message must contain the fragments shown, in '
    'that order (`…` stands for the rest). The test also checks that the model_dirs and the '
    'export around are left as they were: no file changed (size and modification time) or '
    "added, except TensorBoard's event file once a graph has been built, and no lock left.",
    '',
    'When:',
    '',
  ]
  for key, text in WHEN.items():
    lines.append('* `%s`: refused %s.' % (key, text))
  lines += [
    '',
    '| # | API | Bad input | Error | The message says | When |',
    '|---|-----|-----------|-------|------------------|------|',
  ]
  for number, c in enumerate(CASES, 1):
    says = ' … '.join(_code(part) for part in c.says)
    error = '`%s`' % c.error
    if c.xfail:
      error += ' (not yet: see below)'
    lines.append(
      '| %d | %s | %s | %s | %s | %s |' % (number, _code(c.api), _cell(c.bad), error, says, c.when)
    )
  pending = [c for c in CASES if c.xfail]
  if pending:
    lines += [
      '',
      '## Not refused yet',
      '',
      'These rows are expected failures in the test (`xfail(strict=True)`), with the '
      'fix each needs:',
      '',
    ]
    for c in pending:
      lines.append('* `%s`: %s.' % (c.id, c.xfail))
  return '\n'.join(lines) + '\n'


def test_the_doc_table_is_generated_from_the_catalogue():
  assert DOC.read_text() == render_markdown(), (
    'docs/bad_inputs.md is out of date: run `python tests/test_bad_inputs.py`'
  )


if __name__ == '__main__':
  DOC.parent.mkdir(exist_ok=True)
  DOC.write_text(render_markdown())
  print('wrote %s (%d cases)' % (DOC, len(CASES)))
