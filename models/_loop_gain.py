"""Whether a template's params gain from ``steps_per_run`` (the in-graph training loop).

Each template has ``model_fn.steps_per_run_pays(params)``: False where the loop was not
measured to gain (a linear part with categorical columns: within the noise on a quiet machine,
slower under load; docs/templates.md, bench/wide_deep_throughput.py), so that a caller choosing
``steps_per_run`` keeps 1.
"""

from tensorflow.python.feature_column import feature_column_v2 as fc_v2

from tfest_adapters._core import groups


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
  the linear model a weight lookup and a sparse update per column: many small ops per step,
  where the per-run overhead the loop saves is small. Measured on wide and deep only.
  """

  def steps_per_run_pays(params):
    """Takes the template's params; returns whether steps_per_run > 1 is worth trying."""
    return not _has_categorical(getattr(check_params(params), columns_field))

  return steps_per_run_pays


def register_template(model_fn, check_params, columns_field=None):
  """Gives a template what make_estimator reads of it: its params check and loop gain.

  Sets ``model_fn.check_params``, ``model_fn.steps_per_run_pays`` (True, or False when the
  params' ``columns_field`` holds categorical columns) and the attribute saying that the
  template trains groups of batches (``_core.groups.TRAINS_GROUPS_ATTR``).
  """
  model_fn.check_params = check_params
  if columns_field is None:
    model_fn.steps_per_run_pays = dnn_pays(check_params)
  else:
    model_fn.steps_per_run_pays = linear_pays(check_params, columns_field)
  setattr(model_fn, groups.TRAINS_GROUPS_ATTR, True)
