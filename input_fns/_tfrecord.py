"""``tfrecord_input_fn``: a mode-aware input_fn over TFRecord files of ``tf.train.Example``."""

import tensorflow as tf

from tfest_adapters import exceptions
from tfest_adapters._core import groups
from tfest_adapters._core import validation
from tfest_adapters.input_fns import _batching
from tfest_adapters.input_fns import _files
from tfest_adapters.input_fns import _grouping

_ModeKeys = tf.estimator.ModeKeys

_FEATURE_TYPES = (
  tf.io.FixedLenFeature,
  tf.io.VarLenFeature,
  tf.io.FixedLenSequenceFeature,
  tf.io.RaggedFeature,
  tf.io.SparseFeature,
)


def _validate_feature_spec(feature_spec):
  if not isinstance(feature_spec, dict) or not feature_spec:
    validation.fail(
      'feature_spec',
      'a non-empty dict of name -> tf.io.FixedLenFeature (or another tf.io parsing spec)',
      feature_spec,
      'write_tfrecords returns one',
      error=exceptions.ArgumentTypeError,
    )
  for name, spec in feature_spec.items():
    if not isinstance(name, str):
      validation.fail('feature_spec keys', 'str', name, error=exceptions.ArgumentTypeError)
    if not isinstance(spec, _FEATURE_TYPES):
      validation.fail(
        'feature_spec[%r]' % name,
        'a tf.io parsing spec such as tf.io.FixedLenFeature',
        spec,
        error=exceptions.ArgumentTypeError,
      )
  return dict(feature_spec)


def tfrecord_input_fn(
  file_pattern,
  feature_spec,
  label_key,
  batch_size=128,
  shuffle=True,
  num_epochs=None,
  *,
  seed=None,
  compression_type=None,
  shuffle_buffer_size=10000,
  num_parallel_reads=4,
  drop_remainder=False,
  steps_per_run=None,
):
  """Returns a mode-aware input_fn over TFRecord files of ``tf.train.Example``.

  Files are read in parallel (interleaved) when training, records are batched and parsed a
  batch at a time with ``tf.io.parse_example``.

  Example:

  ```python
  import os
  import tempfile
  import numpy as np
  import tensorflow as tf
  from tfest_adapters.input_fns import tfrecord_input_fn, write_tfrecords

  features = {'x': np.random.rand(100, 3).astype(np.float32),
              'name': np.array(['row%d' % i for i in range(100)])}
  path = os.path.join(tempfile.mkdtemp(), 'train.tfrecord')
  written = write_tfrecords(features, np.arange(100) % 2, path, num_shards=4)
  input_fn = tfrecord_input_fn(written.paths, written.feature_spec, written.label_key,
                               batch_size=32, seed=0)
  features, labels = next(iter(input_fn(mode=tf.estimator.ModeKeys.EVAL)))
  print(features['x'].shape, labels.shape)  # (32, 3) (32,)
  ```

  Args:
    file_pattern: glob pattern, or list of patterns (or paths), of the TFRecord files.
    feature_spec: dict of feature name -> ``tf.io.FixedLenFeature`` (or ``VarLenFeature``,
      ``RaggedFeature``...), the label included.
    label_key: the label's feature name, or None for data without labels.
    batch_size: int > 0.
    shuffle: bool; shuffle files and records in TRAIN mode (and without a mode).
    num_epochs: None (repeat forever) or int >= 0; in TRAIN mode (and without a mode).
    seed: int >= 0 or None. Seeds the shuffling; call ``k`` of the input_fn uses a seed
      derived from ``(seed, k)``, so successive ``train()`` calls do not replay the same
      records (None: TensorFlow's default, from the graph seed).
    compression_type: None, '', 'GZIP' or 'ZLIB'.
    shuffle_buffer_size: int > 0, records in the shuffle buffer.
    num_parallel_reads: int > 0, files read at once when shuffling.
    drop_remainder: bool; in TRAIN mode (and without a mode), drop a last short batch.
    steps_per_run: None (default) or int > 0. In TRAIN (or without a mode), the Dataset
      yields groups of this many batches, which the model_fn templates train in one
      ``session.run`` (see ``tfest_adapters.models``); None takes ``params['steps_per_run']``
      from the Estimator's params (1 without it). EVAL and PREDICT always get single batches.

  Returns:
    ``input_fn(mode=None, params=None, config=None, input_context=None)``, returning a
    ``tf.data.Dataset`` of ``(features, labels)``: ``features`` the dict of parsed tensors
    (``feature_spec`` without the label), ``labels`` the label tensor. TRAIN (or no mode):
    shuffled if ``shuffle``, for ``num_epochs`` epochs, one shard per worker in multi-worker
    training. EVAL: one pass in file and record order. PREDICT: the same, ``features`` only
    (the label is not parsed, so unlabeled files work). Without a ``label_key`` the elements
    are ``features`` only.

  Raises:
    ValueError: no file matches; an int argument out of range; a bad compression type.
    KeyError: ``label_key`` is not in ``feature_spec``.
    TypeError: wrong argument types.
  """
  files = _files.expand_files(file_pattern)
  feature_spec = _validate_feature_spec(feature_spec)
  label_key = _files.validate_label_key(label_key, list(feature_spec), 'feature_spec keys')
  validation.check_one_of('compression_type', compression_type, _files.COMPRESSION_TYPES)
  batch_size, num_epochs, seed = _files.validate_reading(
    batch_size, shuffle, num_epochs, seed, drop_remainder, shuffle_buffer_size, num_parallel_reads
  )
  steps_per_run = groups.validate_steps_per_run(steps_per_run)

  call_seeds = _batching.CallSeeds(seed)

  def input_fn(mode=None, params=None, config=None, input_context=None):
    mode_shuffle, mode_epochs, mode_drop = _files.mode_settings(
      mode, shuffle, num_epochs, drop_remainder
    )
    call_seed = call_seeds.next_int() if mode_shuffle else None
    with_labels = label_key is not None and mode != _ModeKeys.PREDICT
    spec = dict(feature_spec)
    if label_key is not None and mode == _ModeKeys.PREDICT:
      del spec[label_key]

    def reader(path):
      return tf.data.TFRecordDataset(path, compression_type=compression_type or '')

    def parse(serialized):
      features = tf.io.parse_example(serialized, spec)
      if not with_labels:
        return features
      labels = features.pop(label_key)
      return features, labels

    records = _files.records(
      files,
      reader,
      mode,
      config,
      input_context,
      mode_shuffle,
      mode_epochs,
      call_seed,
      shuffle_buffer_size,
      num_parallel_reads,
    )
    return _grouping.group_dataset(
      _files.batches(records, parse, batch_size, mode_epochs, mode_drop),
      groups.steps_per_run_of(mode, params, steps_per_run),
    )

  return input_fn
