"""The exceptions tfest-adapters raises.

Every error the project raises derives from :class:`TfestError`, so ``except TfestError``
catches all of them. Each class also derives from the built-in exception that the same
mistake raises elsewhere in Python and TensorFlow (``ValueError`` for a bad value,
``TypeError`` for a wrong type, ...), so code written against
``tf.compat.v1.estimator.inputs`` or ``tf.estimator`` keeps catching what it caught before.
"""


class TfestError(Exception):
  """Base class of every error raised by tfest-adapters."""


class ArgumentError(TfestError, ValueError):
  """An argument has a value that cannot work (raised before any graph or session)."""


class ArgumentTypeError(TfestError, TypeError):
  """An argument has the wrong type."""


class ArgumentKeyError(TfestError, KeyError):
  """A key (feature name, column, prediction key) is missing or unknown."""

  def __str__(self):
    # KeyError quotes its message with repr(); an error message should read as prose.
    return str(self.args[0]) if self.args else ''


class SpecError(TfestError, ValueError):
  """A model_fn returned an EstimatorSpec that does not fit its mode."""


class TrainingError(TfestError, RuntimeError):
  """Training cannot go on (non-finite loss, global step not advancing, ...)."""


class ModelDirError(TfestError, RuntimeError):
  """The model_dir cannot be used as asked (locked, wrong model, already at max_steps)."""


class ExportError(TfestError, RuntimeError):
  """A SavedModel could not be exported, or does not reproduce the Estimator."""


class ClusterError(TfestError, RuntimeError):
  """A TF_CONFIG cluster is misconfigured, or one of its roles failed or hung."""
