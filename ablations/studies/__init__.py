"""Optuna studies over runs, the parts behind ``python -m ablations.study`` (:mod:`ablations.study`, the
command line; :mod:`.launch` starts or resumes a study).

``definition`` reads study files; ``trials`` turns sampled parameters into run overrides;
``objectives`` reads objective values back from runs; ``checks`` checks a study against the run
configs; ``storage`` opens the study's storage; ``worker`` runs trials; ``summary`` writes the
table and figures. ``values`` holds the value formatting and comparison they share.
"""

from .checks import check_definition, check_rows, trial_suites
from .definition import (REDUCERS, Objective, Param, StudyDefinition, available_studies, load_definition,
                         parse_definition)
from .launch import Invocation, parse_args, run_study
from .objectives import EPOCH_METRICS, RUN_METRICS, objective_value
from .storage import (default_storage_url, describe_state, describe_url, open_storage, open_study, state_counts,
                      with_driver)
from .summary import summary_table, write_figures
from .trials import DEFAULT_RUN_OVERRIDES, merge_overrides, suggest, trial_overrides
from .values import format_value
from .worker import Worker, worker_id

__all__ = ["Param", "Objective", "StudyDefinition", "Invocation", "RUN_METRICS", "EPOCH_METRICS", "REDUCERS",
           "available_studies", "load_definition", "parse_definition", "parse_args", "format_value", "merge_overrides",
           "trial_overrides", "suggest", "objective_value", "check_definition", "check_rows", "trial_suites",
           "default_storage_url", "describe_state", "describe_url", "open_storage", "open_study", "state_counts",
           "with_driver", "summary_table", "write_figures", "DEFAULT_RUN_OVERRIDES", "Worker", "worker_id", "run_study"]
