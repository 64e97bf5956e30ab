"""fit: train an Estimator from a notebook or a script, with a progress bar and a History."""

from tfest_adapters.training import _fit_loop


def fit(
  estimator,
  train_input_fn,
  *,
  steps=None,
  max_steps=None,
  eval_input_fn=None,
  eval_every_steps=None,
  early_stopping=None,
  hooks=(),
  progress=True,
  eval_steps=None,
  keep_best=True,
  check_numerics=False,
  lock=True,
):
  """Trains ``estimator``, evaluating every ``eval_every_steps``; returns a History.

  Example:

    history = tfa.fit(estimator, train_fn, max_steps=2000, eval_input_fn=test_fn,
                      eval_every_steps=200,
                      early_stopping=dict(metric='loss', patience=3, min_delta=1e-3))
    history.best_step, history.best_metrics
    estimator.evaluate(test_fn, checkpoint_path=history.best_checkpoint)

  Args:
    estimator: a ``tf.estimator.Estimator``.
    train_input_fn: the Estimator's input_fn for TRAIN: returns a ``tf.data.Dataset`` of
      ``(features, labels)`` (required with a distribution strategy, whose batch is per
      replica) or a ``(features, labels)`` pair of tensors. Each chunk of training is one
      ``Estimator.train`` call, which calls it again: give a repeating, shuffled input
      (``num_epochs=None``), or each chunk restarts the data from its first batch.
    steps: train this many steps more than the model_dir's checkpoint has (None: see
      max_steps).
    max_steps: train until the global step reaches this. With neither, train until
      ``train_input_fn`` runs out of data (refused when it repeats forever).
    eval_input_fn: input_fn for EVAL; its dataset must end (or give ``eval_steps``).
    eval_every_steps: evaluate every this many global steps (at multiples of it) and at the
      end. Default with an eval_input_fn: once, at the end.
    early_stopping: None or ``dict(metric='loss', patience=N, min_delta=0.0, mode='min')``:
      stop when ``metric`` (a key of ``Estimator.evaluate``'s result) has not improved by more
      than ``min_delta`` in ``patience`` evaluations in a row. ``mode`` is 'min' or 'max'
      (default 'min' for metrics named like a loss or an error; required otherwise).
    hooks: extra ``tf.compat.v1.train.SessionRunHook`` for training.
    progress: show a tqdm progress bar (step, loss, steps/s; a notebook widget in Jupyter).
      It stays off when stderr is not a terminal outside a notebook, or the CI environment
      variable is set.
    eval_steps: batches per evaluation (None: until eval_input_fn runs out).
    keep_best: with an eval_input_fn, copy the best checkpoint so far (by the early stopping
      metric, else the eval loss) into ``<model_dir>/best_checkpoint/``, where
      ``keep_checkpoint_max`` never deletes it.
    check_numerics: check every float feature and label of every training batch for NaN
      and Inf (``tf.debugging.check_numerics``): the first bad batch stops training before
      its step is taken, with a TrainingError naming the feature. Off by default (it costs
      one pass over each batch); a non-finite *loss* is always caught.
    lock: hold an exclusive lock on model_dir (``<model_dir>/tfest.lock``, naming this
      process) while training, so that a second training into it is refused instead of
      silently overwriting checkpoints. A lock left by a dead process of this host is taken
      over with a warning. Not taken for remote paths (``gs://...``).

  Reliability, always on:

  * A NaN or Inf loss stops training with a TrainingError naming the global step (and which
    features or labels held non-finite values); nothing from that step on is saved, so the
    latest checkpoint is the last good one.
  * SIGINT (Ctrl-C, a notebook interrupt) or SIGTERM (preemption) ends the current step and
    saves a checkpoint at it; then the previous handler acts (KeyboardInterrupt for Ctrl-C,
    termination for SIGTERM). A second Ctrl-C aborts at once. Main thread only.
  * A failed first step (labels out of range, a bad batch) leaves model_dir's checkpoints as
    they were: the checkpoint restored at the start is not re-saved, and a new model_dir keeps
    only TF's untrained model.ckpt-0.
  * A model_dir holding a checkpoint of another model is refused before the session, naming
    the variables that differ.
  * The event files are flushed at every checkpoint, so after a crash the History of the
    next fit (read from model_dir) reaches the latest checkpoint.

  Returns:
    A :class:`History`: every training step's loss and every evaluation, continuing the rows
    read from model_dir's event files when the model_dir already held a checkpoint;
    ``best_step``, ``best_metrics``, ``best_checkpoint``, ``stopped_early``.

  Raises:
    ArgumentError, ArgumentTypeError: bad arguments, before any training.
    ModelDirError: ``max_steps`` is already reached by the model_dir's checkpoint; another
      training holds model_dir's lock; model_dir holds a checkpoint of another model.
    TrainingError: the global step stopped advancing; a non-finite loss, or (with
      check_numerics) input; a training step failed on its data (e.g. labels out of range).
    KeyboardInterrupt: SIGINT, after the checkpoint at the current step was saved.
  """
  loop = _fit_loop.FitLoop(
    estimator,
    train_input_fn,
    steps=steps,
    max_steps=max_steps,
    eval_input_fn=eval_input_fn,
    eval_every_steps=eval_every_steps,
    early_stopping=early_stopping,
    hooks=hooks,
    progress=progress,
    eval_steps=eval_steps,
    keep_best=keep_best,
    check_numerics=check_numerics,
    lock=lock,
  )
  return loop.run()
