"""The command line without Ray: common flags before or after the subcommand, one line
and exit 2 for bad input, JSON on stdout, a mistyped --set blamed on the override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import ROOT

from adaptune.cli import build_parser, main
from adaptune.commands.parser import EXAMPLES
from adaptune.commands.ui import server_command, start_url
from adaptune.tracking import default_state_dir

QUICKSTART = str(ROOT / "jobs" / "quickstart.yaml")


@pytest.mark.parametrize(
    "argv",
    [
        ["--state-dir", "S", "--tracking-uri", "U", "-q", "--json", "-", "list"],
        ["list", "--state-dir", "S", "--tracking-uri", "U", "-q", "--json", "-"],
        [
            "--state-dir",
            "X",
            "list",
            "--state-dir",
            "S",
            "--tracking-uri",
            "U",
            "-q",
            "--json",
            "-",
        ],
    ],
)
def test_common_flags_go_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.state_dir, args.tracking_uri, args.quiet, args.json) == ("S", "U", True, "-")


def test_a_flag_before_the_subcommand_is_kept_when_not_repeated_after() -> None:
    args = build_parser().parse_args(["--state-dir", "S", "ui"])
    assert args.state_dir == "S" and args.quiet is False


def test_every_subcommand_has_examples_and_exit_codes(capsys: pytest.CaptureFixture) -> None:
    for name in EXAMPLES:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and "exit codes:" in text, name


def test_validate_json_on_stdout_alone(capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", QUICKSTART, "--json", "-"]) == 0
    out = capsys.readouterr()
    (result,) = json.loads(out.out)
    assert result["ok"] and result["plans"][0]["method"] == "dao"
    assert "ok:" in out.err  # the human line went to stderr


def test_methods_json(capsys: pytest.CaptureFixture) -> None:
    assert main(["methods", "--json", "-"]) == 0
    names = [m["name"] for m in json.loads(capsys.readouterr().out)]
    assert names == ["dallmi", "dama", "dao", "mad"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "search.smapler=tpe",
            "--set: search.smapler=tpe: unknown key (did you mean 'search.sampler'?)",
        ),
        (
            "fixed.lrr=0.1",
            "--set: fixed.lrr=0.1: not a dao config field (did you mean 'fixed.lr'?)",
        ),
        # a real field that is wrong for another reason: no key to suggest instead
        ("fixed.lr=0.1", "--set: fixed.lr=0.1: both fixed and searched (in "),
    ],
)
def test_a_mistyped_override_is_blamed_on_the_override(
    override: str, expected: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["validate", QUICKSTART, "--set", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "quickstart.yaml" not in err
    assert err.count("did you mean") == expected.count("did you mean")


@pytest.mark.parametrize(("samples", "counted"), [(1, ", 1 trial,"), (2, ", 2 trials,")])
def test_validate_counts_trials_in_words(
    samples: int, counted: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["validate", QUICKSTART, "--set", f"search.num_samples={samples}"]) == 0
    assert counted in capsys.readouterr().out


def test_ui_refuses_a_port_out_of_range_in_one_line(capsys: pytest.CaptureFixture) -> None:
    assert main(["ui", "--port", "99999"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --port 99999: not a TCP port (1-65535)"


def test_promote_and_report_call_an_unknown_search_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for command in ("promote", "report", "show"):
        assert main(["--state-dir", str(tmp_path), command, "nope"]) == 2, command
        assert capsys.readouterr().err.count("\n") == 1


def test_an_empty_adaptune_home_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAPTUNE_HOME", "")
    monkeypatch.chdir(tmp_path)
    assert default_state_dir() == tmp_path / ".adaptune"


def test_the_ui_runs_one_worker_without_mlflows_job_runner(tmp_path: Path) -> None:
    args = build_parser().parse_args(["ui", "--port", "5055"])
    cmd = server_command(args, "sqlite:///x.db", tmp_path)
    assert cmd[cmd.index("--workers") + 1] == "1" and cmd[-4:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "5055",
    ]


def test_the_ui_url_opens_the_training_view(tmp_path: Path) -> None:
    from adaptune import tracking

    client = tracking.setup(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert start_url(client, "http://127.0.0.1:5000", None) == "http://127.0.0.1:5000/#/experiments"
    exp = tracking.ensure_experiment(client, "x", tmp_path)
    client.create_run(
        exp, run_name="s-1", tags={"adaptune.kind": "search", "adaptune.search": "s-1",
                                   "adaptune.metric": "val/mse", "adaptune.mode": "min"}
    )  # fmt: skip
    url = start_url(client, "http://127.0.0.1:5000", None)
    assert url.startswith(
        f"http://127.0.0.1:5000/#/experiments/{exp}/runs?workflowType=machine_learning"
    )
    assert "searchFilter=" in url and "orderByAsc=true" in url


def test_submit_of_a_job_outside_the_project_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = Path(QUICKSTART).read_text().replace("search_spaces/dao_quick.yaml", "space.yaml")
    (tmp_path / "space.yaml").write_text((ROOT / "search_spaces" / "dao_quick.yaml").read_text())
    (tmp_path / "job.yaml").write_text(job)
    monkeypatch.chdir(ROOT)
    assert main(["submit", str(tmp_path / "job.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "outside the project folder" in err[0]


def test_a_full_disk_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """Writing to /dev/full fails with ENOSPC, as any write on a full disk would."""
    assert main(["methods", "--json", "/dev/full"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the disk is full") and "\n" not in err, err
