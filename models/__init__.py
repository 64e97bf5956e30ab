"""Model side: model_fn builders and templates, and the spec rules they follow.

The user writes the network; the templates return the right ``tf.estimator.EstimatorSpec``
for each mode, with losses, metrics, predictions and export signatures from TF's own heads.

* :func:`classifier_model_fn`, :func:`regressor_model_fn`: ``tf.estimator.DNNClassifier``'s
  and ``DNNRegressor``'s network as model_fns configured by ``params``, usable as they are:
  ``tf.estimator.Estimator(model_fn=classifier_model_fn, params={...})``.
* :func:`make_model_fn`: a model_fn from any ``network_fn(features, mode, params)`` and a head
  (``'multi_class'``, ``'binary'``, ``'regression'``, ``'multi_label'`` or a
  ``tf.estimator.Head``), with an optimizer given by name, as a ``tf.compat.v1.train``
  optimizer or as a Keras optimizer (new-style ones converted, the global step wired).
* :func:`dnn_network_fn`: the canned DNN as a ``network_fn``; :func:`make_head`: TF's heads by
  name; :func:`make_optimizer_fn`: an optimizer checked now, made fresh in each graph.
* :func:`check_spec`, :func:`mode_checked`: what each mode needs, checked with clear errors;
  :func:`dry_run`: all three modes built and run on one batch, without training.
* ``params['steps_per_run']`` (or an input_fn yielding groups of batches): several training
  steps per ``session.run`` in an in-graph loop, the maths of one step per run;
  :class:`StepsPerRunStopHook` stops such training exactly at its last step.

Example:

  import tensorflow as tf
  from tfest_adapters import models

  estimator = tf.estimator.Estimator(
      model_fn=models.classifier_model_fn,
      params=dict(feature_keys=['SepalLength', 'SepalWidth', 'PetalLength', 'PetalWidth'],
                  hidden_units=[10, 10], n_classes=3, learning_rate=0.1),
      config=tf.estimator.RunConfig(tf_random_seed=0))
"""

from tfest_adapters.models._dry_run import DryRunReport
from tfest_adapters.models._dry_run import dry_run
from tfest_adapters.models._dry_run import ModeReport
from tfest_adapters.models._heads import make_head
from tfest_adapters.models._networks import dnn_network_fn
from tfest_adapters.models._optimizers import make_optimizer_fn
from tfest_adapters.models._optimizers import NAMES as OPTIMIZER_NAMES
from tfest_adapters.models._spec_checks import check_spec
from tfest_adapters.models._spec_checks import mode_checked
from tfest_adapters._core.stop_hook import StepsPerRunStopHook
from tfest_adapters.models._templates import classifier_model_fn
from tfest_adapters.models._templates import make_model_fn
from tfest_adapters.models._templates import regressor_model_fn

__all__ = [
    'classifier_model_fn',
    'regressor_model_fn',
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
