"""Study storage: URLs, Optuna's RDBStorage with heartbeat and retry, the study with its sampler
and pruner, and counts of its trials by state."""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserError
from .definition import StudyDefinition


def default_storage_url(name: str, studies_dir: str | Path) -> str:
    return f"sqlite:///{(Path(studies_dir) / f'{name}.db').resolve()}"


def describe_url(url: str) -> str:
    """The URL with its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _retry_callback(max_retry: int):
    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    return cls(max_retry=max_retry)


_CONNECTION_WORDS = ("could not connect", "connection refused", "could not translate host", "timeout expired",
                     "password authentication failed", "does not exist", "no route to host", "unable to open",
                     "name or service not known", "connection to server")


def with_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; the ``postgres`` extra installs
    psycopg2. An explicit ``postgresql+DRIVER://`` is left as it is.
    """
    import importlib.util

    if url.startswith("postgresql://") or url.startswith("postgres://"):
        rest = url.split("://", 1)[1]
        for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
            if importlib.util.find_spec(module) is not None:
                return f"postgresql+{driver}://{rest}"
    return url


def open_storage(url: str, definition: StudyDefinition, attempts: int = 5):
    """Optuna's RDBStorage with heartbeat and retry of dead workers' trials; UserError when unreachable."""
    import optuna
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = describe_url(url)
    url = with_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"storage {shown}: cannot create its folder ({error})") from None
    elif url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    elif url.startswith("mysql"):
        engine_kwargs = {"pool_pre_ping": True}
    with quiet_warnings():
        callback = _retry_callback(definition.max_retry)
    import inspect

    callback_key = ("heartbeat_stale_trial_callback"
                    if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                    else "failed_trial_callback")
    for attempt in range(attempts):
        try:
            with quiet_warnings():
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=definition.heartbeat_interval,
                    grace_period=definition.grace_period, **{callback_key: callback})
            return storage, callback
        except (ModuleNotFoundError, ImportError, NoSuchModuleError) as error:
            raise UserError(f"storage {shown}: its database driver is missing ({error}); for PostgreSQL "
                            "install it with `pip install -e \".[postgres]\"`") from None
        except ArgumentError as error:
            raise UserError(f"storage {shown} is not a valid database URL ({error}); e.g. "
                            "sqlite:///studies/NAME.db or postgresql://user:password@host:5432/db") from None
        except Exception as error:  # OperationalError and friends
            text = str(error).lower()
            if any(word in text for word in _CONNECTION_WORDS) or attempt == attempts - 1:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise UserError(f"cannot reach study storage {shown}: {first}\nCheck the URL, that the "
                                "database server runs and accepts this user, or leave storage= out for the "
                                "local SQLite file.") from None
            time.sleep(0.2 + 0.3 * attempt)  # e.g. two workers creating the tables at the same moment
    raise AssertionError("unreachable")


def _sampler(definition: StudyDefinition, worker_index: int = 0, n_existing: int = 0):
    """The study's sampler. A ``seed`` is offset by the local worker index and by the number of trials
    already stored, so a resumed study or a second local worker does not replay the same proposals
    (a fresh single-worker study is reproducible from its seed)."""
    import optuna

    options = {k: v for k, v in definition.sampler.items() if k != "name"}
    if options.get("seed") is not None:
        options["seed"] = int(options["seed"]) + 100_003 * worker_index + n_existing
    name = definition.sampler_name
    try:
        if name == "grid":
            return optuna.samplers.GridSampler(definition.grid(), **options)
        if name == "random":
            return optuna.samplers.RandomSampler(**options)
        if name == "nsgaii":
            return optuna.samplers.NSGAIISampler(**options)
        return optuna.samplers.TPESampler(**options)
    except TypeError as error:
        raise UserError(f"sampler {name!r}: {error}") from None


def _pruner(definition: StudyDefinition):
    import optuna

    options = {k: v for k, v in definition.pruner.items() if k != "name"}
    classes = {"median": optuna.pruners.MedianPruner, "percentile": optuna.pruners.PercentilePruner,
               "hyperband": optuna.pruners.HyperbandPruner, "none": optuna.pruners.NopPruner}
    try:
        return classes[definition.pruner_name](**options)
    except TypeError as error:
        raise UserError(f"pruner {definition.pruner_name!r}: {error}") from None


def open_study(storage, definition: StudyDefinition, create: bool = True, worker_index: int = 0):
    """Create the study in ``storage`` or load it; check that its objectives match the definition."""
    import optuna

    sampler, pruner = _sampler(definition, worker_index), _pruner(definition)
    try:
        if create:
            study = optuna.create_study(storage=storage, study_name=definition.name, sampler=sampler, pruner=pruner,
                                        directions=definition.directions, load_if_exists=True)
        else:
            study = optuna.load_study(storage=storage, study_name=definition.name, sampler=sampler, pruner=pruner)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise UserError(f"study {definition.name!r} does not exist in this storage yet (it holds: "
                        f"{', '.join(names) or 'no study'}); run it without summary=true first") from None
    n_existing = len(study.get_trials(deepcopy=False))
    if n_existing and definition.sampler.get("seed") is not None:
        study.sampler = _sampler(definition, worker_index, n_existing)
    stored = [d.name.lower() for d in study.directions]
    if stored != definition.directions:
        raise UserError(f"study {definition.name!r} in this storage optimizes {stored} but the definition says "
                        f"{definition.directions}; give the changed study a new name (study.name=...)")
    names = [o.name for o in definition.objectives]
    if getattr(study, "metric_names", None) != names:
        with quiet_warnings():
            study.set_metric_names(names)
    return study


@contextlib.contextmanager
def quiet_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def trial_states():
    from optuna.trial import TrialState

    return TrialState


def state_counts(study) -> dict[str, int]:
    TrialState = trial_states()
    counts = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING,
                                          TrialState.WAITING, TrialState.FAIL)}
    counts["surplus"] = 0
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
        counts["surplus"] += bool(trial.state == TrialState.FAIL and trial.user_attrs.get("surplus"))
    counts["finished"] = counts["complete"] + counts["pruned"]
    return counts


def describe_state(counts: Mapping[str, int], budget: int) -> str:
    return (f"{counts['finished']}/{budget} finished ({counts['complete']} complete, {counts['pruned']} pruned), "
            f"{counts['running']} running, {counts['waiting']} waiting to be retried, {counts['fail']} failed"
            + (f" ({counts['surplus']} surplus: asked for after the budget was taken, ran nothing)"
               if counts.get("surplus") else ""))
