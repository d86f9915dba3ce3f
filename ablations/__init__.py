"""snn-ablations: ablation studies of spiking neural networks (leak, reset, recurrence)."""

__version__ = "0.1.0"


def ablate(model, variant="vanilla", n_neurons=None, **neuron_options):
    """A copy of a user's snnTorch model with every snn.Leaky / snn.RLeaky replaced by the package's
    neuron of ``variant`` (:func:`ablations.ablate.ablate`, documented there)."""
    from .ablate import ablate as _ablate

    return _ablate(model, variant, n_neurons=n_neurons, **neuron_options)
