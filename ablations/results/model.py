"""A recorded run's trained network, built through the one path from a config to a network
(:func:`ablations.models.build_model`) and loaded from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from .. import models
from ..errors import UserError
from .records import CHECKPOINT_FILE, CONFIG_FILE, RESTART_HINT, CorruptRecord

__all__ = ["load_model"]


def load_model(run_dir: str | Path, device: str | torch.device = "cpu"):
    """A finished (or checkpointed) run's trained network and its config."""
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    checkpoint_path = run_dir / CHECKPOINT_FILE
    if not config_path.exists() or not checkpoint_path.exists():
        raise UserError(
            f"{run_dir} is not a run with a checkpoint (expected {CONFIG_FILE} and {CHECKPOINT_FILE}); "
            "run `python -m ablations.run ...` to create it"
        )
    try:
        cfg = OmegaConf.load(config_path)
    except Exception as error:  # yaml and omegaconf raise several types for a damaged file
        raise CorruptRecord(f"{config_path} cannot be read ({type(error).__name__}); {RESTART_HINT}") from None
    try:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
    except Exception as error:  # corrupt or truncated file
        raise CorruptRecord(f"checkpoint {checkpoint_path} cannot be read ({type(error).__name__}: {error}); "
                            f"{RESTART_HINT}") from None
    try:
        model = models.build_model(cfg, tuple(state["input_shape"]))
        model.load_state_dict(state["model"])
    except (UserError, ValueError) as error:
        raise CorruptRecord(f"{run_dir}: its {CONFIG_FILE} no longer describes a network this version can build "
                            f"({error}); {RESTART_HINT}") from None
    except (KeyError, TypeError, RuntimeError, AttributeError) as error:
        raise CorruptRecord(f"{run_dir}: the checkpoint does not match its {CONFIG_FILE} "
                            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                            f"{RESTART_HINT}") from None
    model.to(device).eval()
    return model, cfg
