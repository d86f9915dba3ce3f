"""snn-ablations: ablation studies of spiking neural networks (leak, reset, recurrence)."""

__version__ = "0.1.0"


# the function, bound after its module is imported (``ablations.ablate`` would otherwise name the module)
from .ablate import ablate  # noqa: E402

__all__ = ["ablate", "__version__"]
