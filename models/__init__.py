"""Model side: model_fn templates and builders, and the spec rules they follow.

The user writes the network; :func:`classifier_model_fn`, :func:`regressor_model_fn` (the
canned DNN), the ``linear_*`` and ``wide_deep_*`` templates (canned's LinearClassifier and
DNNLinearCombinedClassifier, and their regressors; all configured by ``params``) and
:func:`make_model_fn` (any ``network_fn``) return the right ``tf.estimator.EstimatorSpec`` for
each mode from TF's own heads. :func:`check_spec`,
:func:`mode_checked` and :func:`dry_run` check any model_fn mode by mode.

Example:

  import tensorflow as tf
  from tfest_adapters import models

  estimator = tf.estimator.Estimator(
      model_fn=models.classifier_model_fn,
      params=dict(feature_keys=['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'],
                  hidden_units=[10, 10], n_classes=3, learning_rate=0.1),
      config=tf.estimator.RunConfig(tf_random_seed=0))
"""

from tfest_adapters._core.stop_hook import StepsPerRunStopHook
from tfest_adapters.models._dry_run import DryRunReport
from tfest_adapters.models._dry_run import ModeReport
from tfest_adapters.models._dry_run import dry_run
from tfest_adapters.models._heads import make_head
from tfest_adapters.models._linear import linear_classifier_model_fn
from tfest_adapters.models._linear import linear_regressor_model_fn
from tfest_adapters.models._make_model_fn import make_model_fn
from tfest_adapters.models._mode_checked import mode_checked
from tfest_adapters.models._networks import dnn_network_fn
from tfest_adapters.models._optimizers import NAMES as OPTIMIZER_NAMES
from tfest_adapters.models._optimizers import make_optimizer_fn
from tfest_adapters.models._spec_checks import check_spec
from tfest_adapters.models._templates import classifier_model_fn
from tfest_adapters.models._templates import regressor_model_fn
from tfest_adapters.models._wide_deep import wide_deep_classifier_model_fn
from tfest_adapters.models._wide_deep import wide_deep_regressor_model_fn

__all__ = [
  'classifier_model_fn',
  'regressor_model_fn',
  'linear_classifier_model_fn',
  'linear_regressor_model_fn',
  'wide_deep_classifier_model_fn',
  'wide_deep_regressor_model_fn',
  'make_model_fn',
  'check_spec',
  'mode_checked',
  'dry_run',
  'DryRunReport',
  'ModeReport',
  'dnn_network_fn',
  'make_head',
  'make_optimizer_fn',
  'OPTIMIZER_NAMES',
  'StepsPerRunStopHook',
]
