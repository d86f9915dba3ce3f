r"""Spiking neuron variants built from snnTorch neurons, out of registered components.

Every variant is one frozen :class:`NeuronSpec`: one component per slot of the dynamics (leak,
reset, recurrence, input scaling, synaptic current, threshold adaptation, and slots a plugin adds;
:mod:`ablations.neurons.components`) plus threshold, surrogate gradient and parameters. A variant is
registered once (:func:`register_variant`, :mod:`ablations.neurons.spec`): that registration is
the one source of its physics. :func:`build_neuron` turns a spec (or a variant name) into a
configured ``snn.Leaky`` subclass (:mod:`ablations.neurons.cells`); :func:`simulate` runs it over a
time-major current ``[T, B, N]`` from a fresh state.

Layout: ``surrogates`` (dS/dU objects), ``components`` (slots, components, their step),
``spec`` (NeuronSpec, variants, config parsing), ``cells`` (modules and the sequence runner),
``torch_scan`` and ``numba_scan`` (the fast paths and what they declare), ``leak_gradient``
(ref [21]'s leak-corrected gradient).

Discrete equations
------------------
Time steps ``t = 1..T``; every sequence starts from ``U[0] = 0`` and ``S[0] = 0``; ``I[t]`` is
the input current of the step (for a layer: ``W x[t]`` plus bias), ``theta`` the threshold and

    S[t] = H(U[t] - theta)            (H(z) = 1 if z > 0 else 0, seed 003 Eq. 2)

``U[t]`` is the membrane *before* the reset its own spike causes: the reset acts on the next
step, through ``S[t-1]``. This is snnTorch's ``Leaky`` with ``reset_delay=True``.

Exponential leak, ``beta = exp(-1/tau)`` (``tau`` in time steps) or ``beta`` given directly:

    reset zero      U[t] = beta (1 - S[t-1]) U[t-1] + I[t]          seed 001 Eq. 3, seed 003 Alg. 2
    reset subtract  U[t] = beta U[t-1] + I[t] - theta S[t-1]
    reset none      U[t] = beta U[t-1] + I[t]

``no_leak`` (IF) is ``beta = 1`` (``tau = inf``), ``complete_leak`` is ``beta = 0`` (the membrane
holds only the current step's input: ``U[t] = I[t]`` with reset zero or none).

Linear (subtractive) leak with rate ``lam >= 0`` per step (seed 002). The leak moves the
membrane toward rest (0) by ``lam`` per step and stops at rest:

    L(u) = sign(u) * max(|u| - lam, 0)
    reset zero      U[t] = L((1 - S[t-1]) U[t-1]) + I[t]
    reset subtract  U[t] = L(U[t-1]) + I[t] - theta S[t-1]
    reset none      U[t] = L(U[t-1]) + I[t]

Seed 002 states no discrete equation. We chose the soft-threshold form because it is the exact
Euler step of ``dU/dt = -lam * sign(U)`` (a constant leak current, as on TrueNorth or Loihi's
linear-leak mode) that never drives the membrane past rest: a plain ``U - lam`` would keep
draining a silent neuron to ``-inf`` and turn the leak into an ever-growing inhibitory bias.
``lam = 0`` is IF.

Recurrence (seed 001 Eq. 4) adds an all-to-all, bias-free recurrent current from the layer's
own spikes of the previous step to the same update:

    I[t] = W x[t] + V S[t-1],   e.g. U[t] = beta (1 - S[t-1]) U[t-1] + W x[t] + V S[t-1]

snnTorch's ``RLeaky`` with reset ``zero`` also wipes the input and recurrent current of the
step and gives ``V`` a bias, so recurrent variants pair our ``Leaky`` with a bias-free
``nn.Linear(N, N)``.

Further components (:mod:`ablations.neurons.components` has their equations): input scaling
``one_minus_beta`` (``I <- (1 - beta) I``, DH-SNN's normalised input), a per-neuron leak
``beta = sigmoid(p)`` learned from ``leak_init`` (DH-SNN), the synaptic current of snnTorch's
``Synaptic`` (``synapse=current``) and an adaptive threshold (``adaptation=alif``, Bellec et al. 2020).

Backends. :func:`run_sequence` is the one place where a neuron is scanned over time. Backend
``step`` runs the components' own per-step definition (:meth:`Leaky.generic_step`, autograd at
every step): the reference every other path is pinned to (``tests/neurons/test_scan.py``, one table of
cases). ``snntorch`` calls snnTorch's module at every step (leak, the built-in resets,
recurrence). ``fused`` runs the same update over all T as one autograd node with a hand-written
backward (:class:`ablations.neurons.torch_scan.NeuronScan`), ``kernel`` as compiled loops
(:mod:`ablations.neurons.numba_scan`); each declares the components it runs, and whether a neuron
runs on it is computed from that declaration (:func:`ablations.neurons.torch_scan.uncovered`).
``auto`` (the default) is the kernel, else the torch scan, for every neuron they declare,
snnTorch's step for the other plain neurons, and the definition (said once in the log) for the
rest (a plugin component with its own hook). Choose per network with :func:`set_backend` or
``neuron.backend=...``.

Surrogate gradients replace ``dS/dU`` in the backward pass (the forward pass is always H):

    atan(alpha)               dS/dU = (alpha / 2) / (1 + (pi alpha z / 2)^2)   (snnTorch ATan)
    fast_sigmoid(slope)       dS/dU = 1 / (slope |z| + 1)^2                   (snnTorch FastSigmoid)
    rectangular(width)        dS/dU = 1/width if |z| < width/2 else 0          (seed 001, "width")
    straight_through(epsilon) dS/dU = 1/(theta + epsilon) if z > 0 else 0      (seed 003 Eq. 5)
    multi_gaussian(...)       DH-SNN's multi-Gaussian (ablations/neurons/surrogates.py)

with ``z = U - theta``. Surrogates are small picklable objects, unlike snnTorch's closures.
"""

from __future__ import annotations

from .cells import (BACKENDS, Leaky, LinearLeaky, RecurrentNeuron, SynapticFilter, build_neuron, exponential_leak,
                    fused_sequence, input_scale_folds, linear_leak, release_instances, run_sequence, set_backend, simulate, step)
from .components import (COMPONENTS, SLOTS, Component, FormReset, ResetForm, Slot, component_for, components_of,
                         parse_leak_init, register_component, register_slot)
from .spec import (DEFAULT_LAM, DEFAULT_TAU, INIT_STATES, LEAKS, PHYSICS_KEYS, VARIANTS, NeuronSpec, effective_tau,
                   physics, register_variant, spec_for, spec_from_config, variant_file_conflicts, variant_label)
from .surrogates import (SURROGATE_PARAMETERS, SURROGATES, ATan, FastSigmoid, MultiGaussian, Rectangular,
                         StraightThrough, Surrogate, make_surrogate)

build = build_neuron  # the name the README's first examples use

__all__ = [
    "DEFAULT_TAU", "DEFAULT_LAM", "LEAKS", "INIT_STATES", "PHYSICS_KEYS", "SURROGATES", "SURROGATE_PARAMETERS",
    "VARIANTS", "SLOTS", "COMPONENTS", "Slot", "Component", "ResetForm", "FormReset", "register_variant", "register_slot",
    "register_component", "component_for", "components_of", "parse_leak_init", "variant_label", "physics",
    "variant_file_conflicts", "effective_tau", "spec_from_config", "step", "exponential_leak", "linear_leak",
    "NeuronSpec", "Leaky", "LinearLeaky", "RecurrentNeuron", "SynapticFilter", "build_neuron", "build",
    "spec_for", "make_surrogate", "run_sequence", "fused_sequence", "input_scale_folds", "simulate", "release_instances", "BACKENDS",
    "set_backend", "Surrogate", "ATan", "FastSigmoid", "Rectangular", "StraightThrough", "MultiGaussian",
]
