"""synlab.settings: seven environment variables, parsed by one function that rejects what it does
not know; engines and stacks are run arguments, not variables."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

from synlab import settings as S
from synlab.__main__ import build_parser, main

ENV = {name: "" for name in S.NAMES}


def test_seven_settings_and_their_defaults():
    assert len(S.NAMES) == 7 and len(set(S.NAMES)) == 7
    s = S.settings(ENV)
    home = Path.home() / ".cache" / "synlab"
    assert s.data_path == (home / "data",) and s.cache_dir == home / "results"
    assert s.offline is False and s.results_dir is None and s.profile == "quick"
    assert s.device is None and s.git_commit is None


def test_values_are_parsed():
    env = dict(
        ENV,
        SYNLAB_DATA_PATH=os.pathsep.join(["/a", "", "~/b"]),
        SYNLAB_OFFLINE=" Yes ",
        SYNLAB_CACHE_DIR="/c",
        SYNLAB_RESULTS_DIR="/r",
        SYNLAB_PROFILE="full",
        SYNLAB_DEVICE="cuda:1",
        SYNLAB_GIT_COMMIT=" abc ",
    )
    s = S.settings(env)
    assert s.data_path == (Path("/a"), Path.home() / "b")  # the first is the data directory
    assert s.offline is True and s.cache_dir == Path("/c") and s.results_dir == Path("/r")
    assert (s.profile, s.device, s.git_commit) == ("full", "cuda:1", "abc")
    assert S.settings(dict(ENV, SYNLAB_OFFLINE="off")).offline is False


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("SYNLAB_OFFLINE", "on-ish", "SYNLAB_OFFLINE='on-ish' is not a yes/no value"),
        ("SYNLAB_OFFLINE", "2", "SYNLAB_OFFLINE='2' is not a yes/no value"),
        ("SYNLAB_PROFILE", "paper", "SYNLAB_PROFILE='paper' is not a profile"),
        ("SYNLAB_DEVICE", "gpu", "SYNLAB_DEVICE='gpu' is not a device"),
    ],
)
def test_unknown_values_are_one_line_errors_naming_the_variable(name, value, message):
    with pytest.raises(ValueError) as err:
        S.settings(dict(ENV, **{name: value}))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_retired_and_unknown_variables_warn_the_others_do_not():
    with pytest.warns(UserWarning, match="SYNLAB_COMPILE is no longer read; use `synlab run"):
        S.settings(dict(ENV, SYNLAB_COMPILE="1"))
    with pytest.warns(UserWarning, match="SYNLAB_DATA_DIR is no longer read; use the first"):
        S.settings(dict(ENV, SYNLAB_DATA_DIR="/x"))
    with pytest.warns(UserWarning, match="SYNLAB_PROFLE is not a synlab setting"):
        S.settings(dict(ENV, SYNLAB_PROFLE="full"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S.settings(dict(ENV, SYNLAB_WORKER="1", SYNLAB_REPOSITORY="x", OTHER="y"))


def test_only_the_settings_module_reads_synlab_variables():
    """Every SYNLAB_* read in the package goes through synlab.settings; the exceptions are the
    executor (hands the settings to its workers, marks them) and its fault injector."""
    root = Path(S.__file__).parent
    allowed = {"settings.py", "executor.py", "executor_check.py", "colab.py"}
    readers = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|getenv", text) and path.name not in allowed:
            readers.add(str(path.relative_to(root)))
    assert not readers, f"modules reading the environment themselves: {sorted(readers)}"
    colab = (root / "colab.py").read_text(encoding="utf-8")
    assert set(re.findall(r"SYNLAB_\w+", colab)) <= {"SYNLAB_REPOSITORY", "SYNLAB_RESULTS_DIR"}


def test_run_takes_engine_and_stack_arguments(capsys):
    args = build_parser().parse_args(["run", "x", "--engine", "fused", "--stack", "all"])
    assert (args.engine, args.stack) == ("fused", 0)
    assert build_parser().parse_args(["run", "x", "--stack", "3"]).stack == 3
    assert build_parser().parse_args(["plan", "x"]).stack is None
    for bad in (["--stack", "0"], ["--stack", "two"], ["--engine", "jit"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["run", "x", *bad])
    capsys.readouterr()


def test_cli_engine_an_experiment_lacks_is_one_error_line(capsys):
    assert main(["run", "raman_rules", "--engine", "compiled"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: raman_rules has no engine 'compiled'; its engines: autograd"
