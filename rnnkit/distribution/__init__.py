"""Training on several devices and machines (Keras 3 `keras.distribution` API) on
`jax.sharding` and `jax.distributed`.

    dist = rnnkit.distribution.DataParallel()          # every device, batch split over them
    rnnkit.distribution.set_distribution(dist)         # or: with dist.scope(): ...
    model.fit(x, y, batch_size=64)                     # same numbers as on one device
"""

from rnnkit.distribution.mesh import (DeviceMesh, LayoutMap, TensorLayout, get_device_count,
                                      list_devices)
from rnnkit.distribution.processes import initialize
from rnnkit.distribution.strategies import (DataParallel, Distribution, ModelParallel,
                                            distribute_tensor, distribution, set_distribution)

__all__ = ["DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel",
           "TensorLayout", "distribute_tensor", "distribution", "get_device_count",
           "initialize", "list_devices", "set_distribution"]
