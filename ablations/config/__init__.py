"""From the command line to the config a run uses, in one package:

- :mod:`.compose`: Hydra's compose API over ``ablations/conf`` and the search path a plugin adds;
- :mod:`.keys`: every override used or refused (unknown keys with did-you-mean, keys nothing reads);
- :mod:`.checks`: the one check pass every entry point goes through (:func:`check` -> config, spec);
- :mod:`.replay`: the overrides a run records, made replayable from any folder.
"""

from .checks import (RUN_NODES, Checked, build_model, check, check_paths, load, neuron_spec, resolve_neuron_defaults,
                    validate, validate_values)
from .compose import CONF_DIR, compose, group_folders, group_options, schema
from .keys import RUN_GROUPS, parse
from .replay import replayable

__all__ = ["Checked", "check", "load", "compose", "schema", "neuron_spec", "build_model", "validate", "validate_values",
           "resolve_neuron_defaults", "check_paths", "CONF_DIR", "RUN_NODES", "RUN_GROUPS", "group_options",
           "group_folders", "parse", "replayable"]
