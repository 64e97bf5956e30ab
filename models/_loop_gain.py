"""Whether a template's params gain from ``steps_per_run`` (the in-graph training loop).

Each template has ``model_fn.steps_per_run_pays(params)``: False when the measured loop
trains slower than one step per run for such params (a linear part with categorical
columns, see docs/templates.md), so that a caller choosing ``steps_per_run`` keeps 1.
"""

from tensorflow.python.feature_column import feature_column_v2 as fc_v2


def _has_categorical(columns):
  return any(isinstance(column, fc_v2.CategoricalColumn) for column in columns or ())


def dnn_pays(check_params):
  """``steps_per_run_pays(params)`` of a DNN template: True (dense features), params checked."""

  def steps_per_run_pays(params):
    """Takes the template's params; returns True (raises as ``check_params`` on bad ones)."""
    check_params(params)
    return True

  return steps_per_run_pays


def linear_pays(check_params, columns_field):
  """``steps_per_run_pays(params)``: False if params' ``columns_field`` has categorical ones.

  Categorical columns (vocabulary, hash bucket, identity, bucketized, crossed, weighted) make
  the linear model a weight lookup and a sparse update per column, which the loop runs slower
  than one step per run.
  """

  def steps_per_run_pays(params):
    """Takes the template's params; returns whether steps_per_run > 1 is worth trying."""
    return not _has_categorical(getattr(check_params(params), columns_field))

  return steps_per_run_pays
