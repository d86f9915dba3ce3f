"""snn-ablations: ablation studies of spiking neural networks (leak, reset, recurrence)."""

__version__ = "0.1.0"
