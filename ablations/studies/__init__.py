"""Optuna studies over runs, the parts behind ``python -m ablations.study`` (:mod:`ablations.study`).

``definition`` reads study files; ``trials`` turns sampled parameters into run overrides;
``objectives`` reads objective values back from runs; ``checks`` checks a study against the run
configs; ``storage`` opens the study's storage; ``worker`` runs trials; ``summary`` writes the
table and figures. ``values`` holds the value formatting and comparison they share.
"""
