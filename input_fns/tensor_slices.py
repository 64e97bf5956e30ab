"""``tensor_slices_input_fn``: in-memory features and labels, mode-aware, without graph constants.

The tutorials' ``Dataset.from_tensor_slices((dict(features), labels))`` input_fn, with the data
kept out of the graph, a full permutation every epoch, and one input_fn for every mode.
"""

import tensorflow as tf

from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _arrays
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _checks
from tfest_adapters.input_fns import _columns
from tfest_adapters.input_fns import _grouping
from tfest_adapters.input_fns import _sharding

_ModeKeys = tf.estimator.ModeKeys


def _structure(kind, keys, tensors):
  return tensors[0] if kind == 'tensor' else dict(zip(keys, tensors))


def _store(columns):
  return _arrays.ColumnStore([a for _, a, _ in columns], [d for _, _, d in columns])


def tensor_slices_input_fn(
  features,
  labels=None,
  batch_size=128,
  shuffle=True,
  num_epochs=None,
  *,
  seed=None,
  drop_remainder=False,
  steps_per_run=None,
):
  """Returns a mode-aware input_fn over in-memory features and labels.

  The ``from_tensor_slices((dict(features), labels)).shuffle(1000).repeat().batch(n)`` input
  function of the TensorFlow tutorials, made general: the arrays are never embedded in the
  graph (they are gathered batch by batch in Python, so graphs and model_dirs stay small
  whatever the size of the data), every epoch is a full permutation of the rows, and the same
  input_fn serves ``train``, ``evaluate`` and ``predict``.

  Example:

  ```python
  import numpy as np
  import tensorflow as tf
  from tfest_adapters.input_fns import tensor_slices_input_fn

  rng = np.random.default_rng(0)
  features = {'x1': rng.random(100, dtype=np.float32), 'x2': rng.random(100, dtype=np.float32)}
  labels = (features['x1'] > features['x2']).astype(np.int64)  # Or a DataFrame and a Series.
  input_fn = tensor_slices_input_fn(features, labels, batch_size=32, seed=0)
  train = input_fn(mode=tf.estimator.ModeKeys.TRAIN)  # Shuffled, repeated.
  evaluation = input_fn(mode=tf.estimator.ModeKeys.EVAL)  # One ordered pass.
  print([len(batch_labels) for _, batch_labels in evaluation])  # [32, 32, 32, 4]
  # estimator.train(input_fn, max_steps=1000); estimator.evaluate(input_fn);
  # estimator.predict(input_fn): the Estimator passes the mode.
  ```

  Args:
    features: dict of arrays (str keys), pandas DataFrame (one feature per column), or one
      array (``[N, ...]``, given to the model as a single tensor). Arrays may be numeric,
      bool or strings; pandas nullable and string columns are accepted when they have no
      missing values.
    labels: None, an array or pandas Series (one label tensor), or a dict of arrays or a
      DataFrame (a dict of label tensors). Same number of rows as ``features``.
    batch_size: int > 0.
    shuffle: bool; shuffle in TRAIN mode (and when the input_fn is called without a mode).
    num_epochs: None (repeat forever) or an int >= 0; in TRAIN mode (and without a mode).
    seed: int >= 0 or None (keyword-only). Seeds the shuffling; call ``k`` of the input_fn
      uses ``(seed, k)``, so successive ``train()`` calls do not replay the same batches.
      Shuffled reading copies the columns of one dtype (up to 256 MiB) once into a
      row-major matrix.
    drop_remainder: bool (keyword-only); in TRAIN mode (and without a mode), drop the last
      short batch so every batch has a static ``batch_size`` dimension.
    steps_per_run: None (default) or int > 0 (keyword-only). In TRAIN (or without a mode),
      the Dataset yields groups of this many batches, gathered at once, which the model_fn
      templates train in one ``session.run`` (see ``tfest_adapters.models``); None takes
      ``params['steps_per_run']`` from the Estimator's params (1 without it). EVAL and
      PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset``:

    * TRAIN (or no mode): ``(features, labels)`` batches, shuffled if ``shuffle``, for
      ``num_epochs`` epochs (forever when None); one shard per worker in multi-worker
      training.
    * EVAL: ``(features, labels)``, one pass in order, every row exactly once (the last batch
      may be short).
    * PREDICT: ``features`` only, one pass in order.

    ``features`` is a dict of ``[batch, ...]`` tensors with the caller's keys in the
    caller's order (DataFrame column order), or one tensor; ``labels`` likewise, and is
    left out when ``labels`` is None.

  Raises:
    ValueError: rows differ in number, data has no rows, an empty dict, a missing value,
      an int argument out of range.
    TypeError: unsupported types or dtypes, non-str keys, non-bool flags.
  """
  feature_kind, feature_columns = _columns.flatten('features', features, allow_none=False)
  label_kind, label_columns = _columns.flatten('labels', labels, allow_none=True)
  num_rows = _columns.validate_lengths(feature_columns, label_columns)
  batch_size = _checks.validate_batch_size(batch_size)
  validation.check_bool('shuffle', shuffle)
  num_epochs = _checks.validate_num_epochs(num_epochs)
  seed = _checks.validate_seed(seed)
  validation.check_bool('drop_remainder', drop_remainder)
  steps_per_run = groups.validate_steps_per_run(steps_per_run)
  feature_keys = [k for k, _, _ in feature_columns]
  label_keys = [k for k, _, _ in label_columns]
  num_features = len(feature_columns)

  call_seeds = _batching.CallSeeds(seed)
  # The columns read with labels, and without (PREDICT): each store copies at most once.
  stores = {True: _store(feature_columns + label_columns), False: _store(feature_columns)}

  def input_fn(mode=None, params=None, config=None, input_context=None):
    if mode in (_ModeKeys.EVAL, _ModeKeys.PREDICT):
      mode_shuffle, mode_epochs, mode_drop = False, 1, False
    else:
      mode_shuffle, mode_epochs, mode_drop = shuffle, num_epochs, drop_remainder
    with_labels = label_kind is not None and mode != _ModeKeys.PREDICT

    def rebuild(tensors):
      built = _structure(feature_kind, feature_keys, tensors[:num_features])
      if not with_labels:
        return built
      return built, _structure(label_kind, label_keys, tensors[num_features:])

    shard = _sharding.resolve(mode, config, input_context)
    _checks.check_shard_not_empty(num_rows, shard)
    return _grouping.make_group_dataset(
      stores[with_labels],
      None,
      rebuild,
      batch_size,
      mode_epochs,
      mode_shuffle,
      seed=call_seeds.next() if mode_shuffle else None,
      shard=shard,
      drop_remainder=mode_drop,
      steps_per_run=groups.steps_per_run_of(mode, params, steps_per_run),
    )

  return input_fn
