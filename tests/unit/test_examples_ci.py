"""examples/ci: the ready-made CI jobs stay pinned, least-privileged and correct.

Static checks on the files (every action pinned by a full commit SHA with its release in a
comment, `permissions: {}` at the top, no persisted checkout credentials, no registry host
names), and the shell the jobs run, executed here with a fake `hardenreq` (and, for the GitLab
refresh job, fake `git` and `curl`) to check how each exit code is handled."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
GITHUB = CI / "github"
REFRESH = GITHUB / "hardenreq-refresh.yml"
VERIFY = GITHUB / "hardenreq-verify.yml"
WORKFLOWS = [REFRESH, VERIFY]
GITLAB = CI / "gitlab" / "hardenreq.gitlab-ci.yml"
README = CI / "README.md"
YAML_FILES = [*WORKFLOWS, GITLAB]

# A `uses:` line: owner/repo[/path]@<40 hex> followed by `# v<release>` and nothing else.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED_REF = re.compile(
    r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)@(?P<sha>[0-9a-f]{40})$"
)
RELEASE_COMMENT = re.compile(r"^\s+# (?P<tag>v\d+(?:\.\d+)*)$")
# Anything shaped like a host name. Only these may appear in examples/ci: the example index, and
# the code host the README points at for `git ls-remote`. A package registry's host never may.
HOST = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|app|sh|co|cloud)\b", re.IGNORECASE)
ALLOWED_HOSTS = {"index.example.com", "example.com", "github.com"}
# GitHub's default shell for `shell: bash` steps, and what GitLab's runner runs a script with.
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
GITLAB_BASH = ["bash", "-eo", "pipefail"]
TOKEN = "glpat-not-a-real-token-0123456789"


def _yaml() -> Any:
    # PyYAML comes with bandit (a dev dependency); the static regex checks below need none.
    return pytest.importorskip("yaml")


def _load(path: Path) -> dict[Any, Any]:
    data = _yaml().safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _jobs(path: Path) -> dict[str, dict[str, Any]]:
    jobs = _load(path)["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def _steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in _jobs(path).values() for step in job["steps"]]


def _step(path: Path, name: str) -> dict[str, Any]:
    matches = [step for step in _steps(path) if step.get("name") == name]
    assert len(matches) == 1, f"{path.name}: no single step named {name!r}"
    return matches[0]


def _triggers(path: Path) -> dict[str, Any]:
    data = _load(path)
    # YAML 1.1 reads a bare `on` key as the boolean true.
    triggers = data.get("on", data.get(True))
    assert isinstance(triggers, dict)
    return triggers


def _pins(path: Path) -> list[tuple[str, str, str]]:
    """(action, sha, release) of every `uses:` line, failing on any line that is not pinned."""
    pins = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = USES_LINE.match(line)
        if match is None:
            continue
        where = f"{path.name}:{number}: {line.strip()}"
        ref = PINNED_REF.match(match["ref"])
        assert ref is not None, f"not pinned by a full commit SHA: {where}"
        comment = RELEASE_COMMENT.match(match["rest"])
        assert comment is not None, f"no `# v<release>` comment after the SHA: {where}"
        pins.append((ref["action"], ref["sha"], comment["tag"]))
    return pins


def _executable(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _fake_bin(tmp_path: Path) -> Path:
    """A bin directory with a fake `hardenreq` (exits FAKE_RC, logs its arguments, writes any
    --report or -o file) and `python` pointing at this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(
        bin_dir / "hardenreq",
        "#!/bin/sh\n"
        'printf "%s\\n" "$*" >> "$FAKE_LOG"\n'
        'out=""; prev=""\n'
        'for arg in "$@"; do\n'
        '  if [ "$prev" = --report ] || [ "$prev" = -o ]; then out="$arg"; fi\n'
        '  prev="$arg"\n'
        "done\n"
        'if [ -n "$out" ]; then printf "report %s\\n" "$FAKE_RC" > "$out"; fi\n'
        'exit "$FAKE_RC"\n',
    )
    (bin_dir / "python").symlink_to(sys.executable)
    return bin_dir


def _run(
    script: str, env: dict[str, str], cwd: Path, interpreter: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(interpreter or GITHUB_BASH), "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


# --- every file ---------------------------------------------------------------------------------


def test_the_examples_are_all_there() -> None:
    expected = {
        "README.md",
        "github/hardenreq-refresh.yml",
        "github/hardenreq-verify.yml",
        "github/requirements-ci.in",
        "gitlab/hardenreq.gitlab-ci.yml",
    }
    found = {path.relative_to(CI).as_posix() for path in CI.rglob("*") if path.is_file()}
    assert found == expected


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: path.name)
def test_yaml_parses(path: Path) -> None:
    assert _load(path)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_a_full_commit_sha_with_its_release(path: Path) -> None:
    pins = _pins(path)
    assert pins
    # Every `uses` the parser sees is on a line the regex checked (no flow style, no quoting).
    parsed = [step["uses"] for step in _steps(path) if "uses" in step]
    assert sorted(parsed) == sorted(f"{action}@{sha}" for action, sha, _ in pins)


def test_each_action_has_one_pin_and_the_readme_names_it() -> None:
    readme = README.read_text(encoding="utf-8")
    by_action: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for action, sha, tag in _pins(path):
            by_action.setdefault(action, set()).add((sha, tag))
    assert set(by_action) == {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/download-artifact",
        "peter-evans/create-pull-request",
        "github/codeql-action/upload-sarif",
    }
    for action, pins in by_action.items():
        assert len(pins) == 1, f"{action} is pinned to more than one commit: {pins}"
        ((sha, tag),) = pins
        assert f"| `{action}` | {tag} | `{sha}` |" in readme, f"README: no row for {action}"


@pytest.mark.parametrize("path", sorted(CI.rglob("*.*")), ids=lambda path: path.name)
def test_no_host_but_the_allowed_ones(path: Path) -> None:
    hosts = {match.lower() for match in HOST.findall(path.read_text(encoding="utf-8"))}
    assert hosts <= ALLOWED_HOSTS, f"{path.name}: {sorted(hosts - ALLOWED_HOSTS)}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: path.name)
def test_every_pip_install_requires_hashes(path: Path) -> None:
    installs = [
        line for line in path.read_text(encoding="utf-8").splitlines() if "pip install" in line
    ]
    commands = [line for line in installs if not line.lstrip().startswith("#")]
    assert commands
    for line in commands:
        assert "--require-hashes -r " in line, line


def test_requirements_ci_in_names_hardenreq_and_how_to_lock_it() -> None:
    text = (GITHUB / "requirements-ci.in").read_text(encoding="utf-8")
    requirements = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert requirements == ["hardenreq"]
    assert "hardenreq harden requirements-ci.in" in text


# --- GitHub workflows ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_token_may_do_nothing_unless_a_job_asks(path: Path) -> None:
    assert re.search(r"^permissions: \{\}$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert _load(path)["permissions"] == {}
    for name, job in _jobs(path).items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions of its own"


def test_each_job_has_the_least_permissions_it_needs() -> None:
    permissions = {
        (path.name, name): job["permissions"]
        for path in WORKFLOWS
        for name, job in _jobs(path).items()
    }
    assert permissions == {
        ("hardenreq-refresh.yml", "refresh"): {"contents": "read"},
        ("hardenreq-refresh.yml", "pull-request"): {
            "contents": "write",
            "pull-requests": "write",
        },
        ("hardenreq-verify.yml", "verify"): {"contents": "read", "security-events": "write"},
    }


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_jobs_time_out_and_runs_do_not_pile_up(path: Path) -> None:
    assert "group" in _load(path)["concurrency"]
    for name, job in _jobs(path).items():
        assert 0 < job["timeout-minutes"] <= 30, f"{path.name}: job {name}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_checkout_leaves_no_credentials_behind(path: Path) -> None:
    checkouts = [s for s in _steps(path) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_python_312_and_a_hash_pinned_hardenreq(path: Path) -> None:
    setup = [s for s in _steps(path) if s.get("uses", "").startswith("actions/setup-python@")]
    assert [step["with"]["python-version"] for step in setup] == ["3.12"]
    install = _step(path, "Install hardenreq (hash-pinned)")
    assert install["run"] == "python -m pip install --require-hashes -r .github/requirements-ci.txt"


def test_refresh_runs_weekly_and_on_demand() -> None:
    triggers = _triggers(REFRESH)
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (cron,) = (entry["cron"] for entry in triggers["schedule"])
    _minute, _hour, day, month, weekday = cron.split()
    assert (day, month) == ("*", "*")
    assert weekday.isdigit()


@pytest.mark.parametrize(
    ("code", "exit_code", "changed"),
    [(0, 0, "false"), (1, 0, "true"), (2, 2, None), (3, 3, None), (4, 4, None)],
)
def test_refresh_step_goes_on_when_something_changed(
    tmp_path: Path, code: int, exit_code: int, changed: str | None
) -> None:
    output = tmp_path / "github_output"
    output.touch()
    log = tmp_path / "log"
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {
        "PATH": f"{_fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "FAKE_RC": str(code),
        "FAKE_LOG": str(log),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
    }
    result = _run(_step(REFRESH, "Refresh")["run"], env, tmp_path)
    assert result.returncode == exit_code, result.stderr
    report = runner_temp / "hardenreq" / "refresh.md"
    assert log.read_text() == f"refresh --report {report} --exit-code\n"
    expected_output = "" if changed is None else f"changed={changed}\n"
    assert output.read_text() == expected_output
    if changed is None:
        assert f"exit code {code}" in result.stdout


def test_refresh_hands_the_changes_over_as_a_patch(tmp_path: Path) -> None:
    """The refresh job's patch, applied by the pull-request job to a fresh checkout of the same
    commit, reproduces the refreshed files (a new file included); no change means no patch."""
    refreshed = tmp_path / "refreshed"
    refreshed.mkdir()
    _git(refreshed, "init", "--quiet")
    (refreshed / "requirements.txt").write_text("a==1.0 \\\n    --hash=sha256:00\n")
    _git(refreshed, "add", ".")
    _git(refreshed, "commit", "--quiet", "-m", "lock")
    fresh = tmp_path / "fresh"
    _git(tmp_path, "clone", "--quiet", str(refreshed), str(fresh))

    runner_temp = tmp_path / "runner-temp"
    (runner_temp / "hardenreq").mkdir(parents=True)
    output = tmp_path / "github_output"
    output.touch()
    env = {"RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output)}
    package = _step(REFRESH, "Package the changes")["run"]

    assert _run(package, env, refreshed).returncode == 0
    assert output.read_text() == "changed=false\n"

    (refreshed / "requirements.txt").write_text("a==1.1 \\\n    --hash=sha256:11\n")
    (refreshed / "requirements-dev.txt").write_text("b==2.0 \\\n    --hash=sha256:22\n")
    output.write_text("")
    assert _run(package, env, refreshed).returncode == 0
    assert output.read_text() == "changed=true\n"

    result = _run(_step(REFRESH, "Apply the changes")["run"], env, fresh)
    assert result.returncode == 0, result.stderr
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert (fresh / name).read_bytes() == (refreshed / name).read_bytes()


def test_refresh_opens_the_pull_request_only_when_something_changed() -> None:
    jobs = _jobs(REFRESH)
    assert (
        jobs["refresh"]["outputs"]["changed"] == "${{ steps.package.outputs.changed || 'false' }}"
    )
    assert jobs["pull-request"]["needs"] == "refresh"
    assert jobs["pull-request"]["if"] == "needs.refresh.outputs.changed == 'true'"
    upload = _step(REFRESH, "Hand the changes to the pull-request job")
    assert upload["if"] == "steps.package.outputs.changed == 'true'"
    assert upload["with"]["retention-days"] == 1
    create = _step(REFRESH, "Open or update the pull request")
    assert create["with"] == {
        "token": "${{ secrets.GITHUB_TOKEN }}",
        "branch": "hardenreq/refresh",
        "delete-branch": True,
        "title": "hardenreq: refresh pinned requirements",
        "commit-message": "hardenreq: refresh pinned requirements and their hashes",
        # Where the refresh step wrote it: outside the work tree, so it is not committed.
        "body-path": "${{ runner.temp }}/hardenreq/refresh.md",
    }


def test_verify_runs_on_pull_requests_and_pushes_to_main() -> None:
    triggers = _triggers(VERIFY)
    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"] == {"branches": ["main"]}


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_verify_uploads_the_report_then_fails_on_verify_exit_code(
    tmp_path: Path, code: int
) -> None:
    output = tmp_path / "github_output"
    output.touch()
    log = tmp_path / "log"
    env = {
        "PATH": f"{_fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "FAKE_RC": str(code),
        "FAKE_LOG": str(log),
        "GITHUB_OUTPUT": str(output),
    }
    annotations = _step(VERIFY, "Verify (annotations)")
    assert _run(annotations["run"], env, tmp_path).returncode == 0
    assert output.read_text() == f"rc={code}\n"

    sarif = _step(VERIFY, "Verify (SARIF report)")
    assert sarif["if"] == "always()"
    assert sarif["run"] == (
        "hardenreq verify --format sarif -o hardenreq.sarif requirements.txt || true"
    )
    assert _run(sarif["run"], env, tmp_path).returncode == 0
    assert log.read_text() == (
        "verify --format github requirements.txt\n"
        "verify --format sarif -o hardenreq.sarif requirements.txt\n"
    )

    upload = _step(VERIFY, "Upload to code scanning")
    assert upload["if"].startswith("always() && hashFiles('hardenreq.sarif') != ''")
    assert upload["with"]["sarif_file"] == "hardenreq.sarif"

    final = _step(VERIFY, "Fail on verify's exit code")
    assert final["if"] == "always()"
    assert final["env"] == {"VERIFY_RC": "${{ steps.verify.outputs.rc }}"}
    assert _run(final["run"], {"VERIFY_RC": str(code)}, tmp_path).returncode == code
    # Verify did not run at all (an earlier step failed): the job still fails.
    assert _run(final["run"], {"VERIFY_RC": ""}, tmp_path).returncode == 1


# --- GitLab -------------------------------------------------------------------------------------


def _gitlab() -> dict[str, Any]:
    return _load(GITLAB)


def _gitlab_env(tmp_path: Path, code: int) -> dict[str, str]:
    variables = {
        **_gitlab()[".hardenreq"]["variables"],
        **_gitlab()["hardenreq-refresh"]["variables"],
    }
    return {
        **{name: str(value) for name, value in variables.items()},
        "HARDENREQ_GIT_EMAIL": "bot@example.com",
        "PATH": f"{_fake_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "FAKE_RC": str(code),
        "FAKE_LOG": str(tmp_path / "log"),
    }


def test_gitlab_image_is_pinned_by_digest() -> None:
    image = _gitlab()[".hardenreq"]["image"]
    assert re.fullmatch(r"python:3\.12-slim@sha256:[0-9a-f]{64}", image), image
    assert image.split("@")[1] in README.read_text(encoding="utf-8")


def test_gitlab_jobs_run_where_they_should() -> None:
    gitlab = _gitlab()
    verify, refresh = gitlab["hardenreq-verify"], gitlab["hardenreq-refresh"]
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in verify["rules"]
    assert refresh["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    for job in (verify, refresh):
        assert job["extends"] == ".hardenreq"
        assert job["timeout"]
    assert verify["artifacts"]["when"] == "always"
    assert set(verify["artifacts"]["paths"]) == {"hardenreq.txt", "hardenreq.json"}
    assert verify["artifacts"]["reports"] == {"codequality": "gl-code-quality-report.json"}
    assert refresh["artifacts"]["paths"] == ["refresh.md"]


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_gitlab_verify_writes_both_reports_and_fails_on_the_exit_code(
    tmp_path: Path, code: int
) -> None:
    env = _gitlab_env(tmp_path, code)
    script = "\n".join(_gitlab()["hardenreq-verify"]["script"])
    result = _run(script, env, tmp_path, interpreter=GITLAB_BASH)
    assert result.returncode == code, result.stderr
    assert (tmp_path / "log").read_text() == (
        "verify -o hardenreq.txt requirements.txt\n"
        "verify --format json -o hardenreq.json requirements.txt\n"
    )
    assert "hardenreq verify exited with" in result.stdout


def test_gitlab_code_quality_report_from_the_json_report(tmp_path: Path) -> None:
    (script,) = (s for s in _gitlab()["hardenreq-verify"]["script"] if "<<'PY'" in s)
    env = _gitlab_env(tmp_path, 0)
    report = tmp_path / "gl-code-quality-report.json"

    assert _run(script, env, tmp_path).returncode == 0
    assert json.loads(report.read_text()) == []  # no JSON report: an empty one

    finding = {
        "kind": "unknown-hash",
        "severity": "error",
        "package": "django",
        "version": "5.2.19",
        "file": "requirements.txt",
        "line": 8,
        "message": "django 5.2.19: a hash matches no file of the release",
        "details": {"hash": "sha256:" + "0" * 64},
    }
    index_wide = {**finding, "kind": "extra-index", "severity": "warning", "file": None}
    index_wide["line"] = None
    (tmp_path / "hardenreq.json").write_text(
        json.dumps({"version": 1, "findings": [finding, index_wide]})
    )
    assert _run(script, env, tmp_path).returncode == 0
    issues = json.loads(report.read_text())
    assert [issue["severity"] for issue in issues] == ["critical", "major"]
    assert [issue["location"] for issue in issues] == [
        {"path": "requirements.txt", "lines": {"begin": 8}},
        {"path": "requirements.txt", "lines": {"begin": 1}},
    ]
    assert issues[0]["check_name"] == "hardenreq/unknown-hash"
    assert issues[0]["description"] == finding["message"]
    assert len({issue["fingerprint"] for issue in issues}) == 2


def _refresh_script() -> str:
    script = _gitlab()["hardenreq-refresh"]["script"]
    assert isinstance(script, list)
    assert script[0].startswith("apt-get ")  # git and curl: not in the slim image
    return "\n".join(script[1:])


@pytest.mark.parametrize("code", [0, 2, 3, 4])
def test_gitlab_refresh_stops_when_nothing_changed_or_it_failed(tmp_path: Path, code: int) -> None:
    env = _gitlab_env(tmp_path, code)
    # No git, no curl, no token: none may be reached.
    result = _run(_refresh_script(), env, tmp_path, interpreter=GITLAB_BASH)
    assert result.returncode == code, result.stderr
    assert (tmp_path / "log").read_text() == "refresh --report refresh.md --exit-code\n"


@pytest.mark.parametrize("open_mr", [False, True], ids=["create", "update"])
def test_gitlab_refresh_pushes_and_opens_or_updates_the_merge_request(
    tmp_path: Path, open_mr: bool
) -> None:
    """With fake git and curl: the branch is pushed with the token from GIT_ASKPASS, the merge
    request is created (or the open one updated) with the report as its description, and the
    token is on no command line."""
    env = _gitlab_env(tmp_path, 1)
    bin_dir = Path(env["PATH"].split(os.pathsep)[0])
    calls = tmp_path / "calls"
    _executable(
        bin_dir / "git",
        "#!/bin/sh\n"
        'printf "git %s\\n" "$*" >> "$CALLS"\n'
        'case "$*" in\n'
        '  "diff --cached --quiet") exit 1 ;;\n'
        '  *" push "*) "$GIT_ASKPASS" "Password: " > "$CALLS.askpass" ;;\n'
        "esac\n",
    )
    _executable(
        bin_dir / "curl",
        "#!/bin/sh\n"
        'printf "curl %s\\n" "$*" >> "$CALLS"\n'
        'out=""; prev=""; body=""\n'
        'for arg in "$@"; do\n'
        '  [ "$prev" = --output ] && out="$arg"\n'
        '  if [ "$prev" = --header ]; then\n'
        '    case "$arg" in @*) cat "${arg#@}" >> "$CALLS.headers" ;; esac\n'
        "  fi\n"
        '  [ "$prev" = --data ] && body="${arg#@}"\n'
        '  prev="$arg"\n'
        "done\n"
        'if [ -n "$body" ]; then cp "$body" "$CALLS.body"; fi\n'
        'case "$*" in\n'
        '  *--get*) printf "%s" "$OPEN_MRS" > "$out" ;;\n'
        '  *) printf \'{"web_url": "https://gitlab.example.com/mr/7"}\' > "$out" ;;\n'
        "esac\n",
    )
    env.update(
        {
            "CALLS": str(calls),
            "OPEN_MRS": '[{"iid": 7}]' if open_mr else "[]",
            "HARDENREQ_BOT_TOKEN": TOKEN,
            "CI_COMMIT_BRANCH": "main",
            "CI_SERVER_URL": "https://gitlab.example.com",
            "CI_PROJECT_PATH": "group/project",
            "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
            "CI_PROJECT_ID": "42",
        }
    )
    result = _run(_refresh_script(), env, tmp_path, interpreter=GITLAB_BASH)
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr

    lines = calls.read_text().splitlines()
    assert TOKEN not in calls.read_text()
    assert lines[0] == "git checkout -B hardenreq/refresh"
    assert lines[1] == "git add --all -- . :(exclude)refresh.md"
    assert lines[4] == (
        "git -c credential.helper= push --force --quiet "
        "https://oauth2@gitlab.example.com/group/project.git HEAD:refs/heads/hardenreq/refresh"
    )
    assert (tmp_path / "calls.askpass").read_text() == TOKEN
    curls = [line for line in lines if line.startswith("curl ")]
    assert len(curls) == 2
    for line in curls:
        assert line.startswith("curl --fail --silent --show-error --header @")
    api = "https://gitlab.example.com/api/v4/projects/42/merge_requests"
    assert curls[1].endswith(f"--request PUT {api}/7" if open_mr else f"--request POST {api}")
    assert (tmp_path / "calls.headers").read_text() == f"PRIVATE-TOKEN: {TOKEN}\n" * 2

    body = json.loads((tmp_path / "calls.body").read_text())
    assert body["description"] == "report 1\n"  # refresh.md, as the fake wrote it
    assert body["remove_source_branch"] is True
    if open_mr:
        assert "source_branch" not in body
    else:
        assert (body["source_branch"], body["target_branch"]) == ("hardenreq/refresh", "main")
    assert "Merge request: https://gitlab.example.com/mr/7" in result.stdout


def test_gitlab_token_is_never_echoed() -> None:
    for line in GITLAB.read_text(encoding="utf-8").splitlines():
        code = line.strip()
        assert code != "set -x"
        if "HARDENREQ_BOT_TOKEN" not in code or code.startswith("#"):
            continue
        # Only: the check that it is set, and the two files written into the private directory.
        assert code.startswith((": ", "printf ")), code
        if code.startswith("printf "):
            assert code.endswith(('> "$secrets/askpass"', '> "$secrets/headers"')), code
