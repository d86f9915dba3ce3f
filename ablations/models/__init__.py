"""The papers' networks as named models (``model=NAME``, ``conf/model/NAME.yaml``).

A model config names a ``builder`` (``"module:function"``) that :func:`ablations.config.build_model`
calls as ``builder(cfg, spec, input_shape)``; it returns a network whose ``forward`` takes
``[T, B, ...]`` and returns ``[B, classes]`` and that has ``n_classes``, ``probes`` and ``records``.

* :mod:`ablations.models.layered`: any layer-string network (seed 003's VGG nets ``vgg9``,
  ``vgg6``; seed 001's FC nets ``fc_nmnist``, ``fc_dvs_gesture``, ``fc_mnist``, ``fc_shd``) with
  ``model.dropout`` as a switch.
* :mod:`ablations.models.resnet`: a spiking ResNet-18 for CIFAR-10 (seed 001), ``resnet18``.
"""
