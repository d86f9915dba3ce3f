"""The fault-injection suite's own summary line: kill points tried, recovered, results equal."""

from __future__ import annotations

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report):
    if "test_kill_points" in report.nodeid and (report.when == "call" or report.outcome != "passed"):
        _outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    passed = sum(outcome == "passed" for outcome in _outcomes.values())
    commands = sorted({nodeid.split("::")[1].split("[")[0].removeprefix("test_").split("_killed")[0]
                       for nodeid in _outcomes})
    terminalreporter.write_line(
        f"fault injection: {len(_outcomes)} SIGKILL points ({', '.join(commands)}); {passed} recovered with "
        f"results equal to an uninterrupted run and no partial file trusted; {len(_outcomes) - passed} failed")
