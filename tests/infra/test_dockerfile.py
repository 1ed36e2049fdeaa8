"""Static checks of infra/Dockerfile and infra/cloudbuild.yaml.

There is no Docker engine here, so the image is never built in tests; these
checks catch what would break the build or the image on Vertex AI: a COPY of a
missing or docker-ignored file, a package of the project left out, the lock or
the project not installed, a base whose Python is not the one pyproject
requires, and a Cloud Build config that builds one thing and pushes another.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.conftest import REPO
from tests.infra.terraform_config import Config

DOCKERFILE = REPO / "infra" / "Dockerfile"
DOCKERIGNORE = REPO / "infra" / "Dockerfile.dockerignore"
CLOUDBUILD = REPO / "infra" / "cloudbuild.yaml"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.partition(" ")
        result.append((keyword.upper(), args.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return result


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    found = []
    for keyword, args in instructions():
        if keyword in {"COPY", "ADD"}:
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            assert "--from" not in args, "multi-stage COPY: extend this test"
            found.append((parts[:-1], parts[-1]))
    return found


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore pattern excludes path or one of its parents."""
    parts = Path(path.rstrip("/")).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.strip("/")
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(candidate, pattern[3:])
            ):
                return True
    return False


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    patterns = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
    assert not [p for p in patterns if p.startswith("!")], "re-includes: extend ignored()"
    return patterns


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def project_packages() -> set[str]:
    """Top-level packages pyproject's [tool.setuptools.packages.find] installs."""
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    return {
        p.name
        for p in REPO.iterdir()
        if (p / "__init__.py").is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in include)
    }


def arg_defaults() -> dict[str, str]:
    defaults = {}
    for keyword, args in instructions():
        if keyword == "ARG" and "=" in args:
            name, value = args.split("=", 1)
            defaults[name] = value
    return defaults


def test_every_copy_source_exists_and_is_not_docker_ignored():
    patterns = dockerignore_patterns()
    sources = [s for srcs, _ in copies() for s in srcs]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: excluded by {DOCKERIGNORE.name}"


def test_ignored_matches_like_docker():
    """The helper above must really detect exclusions, or the test above proves nothing."""
    assert ignored("tests/infra", ["tests"])
    assert ignored("trainer/__pycache__/x.pyc", ["**/__pycache__"])
    assert ignored("README.md", ["*.md"])
    assert not ignored("trainer/", ["tests", "**/__pycache__"])


def test_the_context_excludes_heavy_and_private_paths():
    patterns = dockerignore_patterns()
    for path in (".venv", ".git", "build", "tests", ".env", "infra/terraform/.terraform"):
        assert ignored(path, patterns), path


def test_every_project_package_is_copied_and_imported():
    packages = project_packages()
    assert packages == {"trainer", "serving", "components", "pipelines"}
    copied = {s.strip("/").split("/")[0] for srcs, _ in copies() for s in srcs}
    assert packages <= copied, f"not copied: {packages - copied}"
    smoke = [a for k, a in instructions() if k == "RUN" and "import" in a and "kfp" in a]
    assert smoke, "no build-time import check"
    for package in packages:
        assert re.search(rf"\b{package}\b", smoke[-1]), f"{package} not imported at build time"
    assert "kfp.dsl.executor_main" in smoke[-1]  # what kfp runs each component with


def test_installs_the_runtime_dependencies_at_locked_versions_then_the_project():
    """Runtime dependencies only (pyproject), constrained by the lock: no dev tools."""
    steps = instructions()
    runs = [(i, a) for i, (k, a) in enumerate(steps) if k == "RUN"]
    lock_runs = [
        i
        for i, a in runs
        if re.search(r"pip install -c requirements\.lock -r /tmp/runtime\.txt", a)
        and "['project']['dependencies']" in a
    ]
    project_runs = [i for i, a in runs if re.search(r"pip install --no-deps \.(\s|$)", a)]
    assert len(lock_runs) == 1 and len(project_runs) == 1
    copy_lines = {
        s: i for i, (k, a) in enumerate(steps) if k == "COPY" for s in shlex.split(a)[:-1]
    }
    assert copy_lines["requirements.lock"] < lock_runs[0] < project_runs[0]
    # The project install sees everything it builds from.
    needed = {"pyproject.toml", "README.md"} | {f"{p}/" for p in project_packages()}
    assert all(copy_lines[s] < project_runs[0] for s in needed)
    # README.md is needed because pyproject names it as the readme.
    assert pyproject()["project"]["readme"] == "README.md"


def test_base_python_is_the_one_pyproject_requires():
    steps = instructions()
    assert steps[0] == ("ARG", f"BASE_IMAGE={arg_defaults()['BASE_IMAGE']}")
    froms = [a for k, a in steps if k == "FROM"]
    assert froms == ["${BASE_IMAGE}"]
    base = arg_defaults()["BASE_IMAGE"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)(-[a-z0-9-]+)?", base)
    assert match, f"base {base!r}: expected an official python:X.Y image"
    version = f"{match[1]}.{match[2]}"
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert f"{version}.0" in requires, f"base Python {version} vs requires-python {requires}"
    # A switched BASE_IMAGE is checked when the image is built.
    guard = [a for k, a in steps if k == "RUN" and "sys.version_info" in a]
    assert guard and f"== ({match[1]}, {match[2]})" in guard[0]


def test_environment_and_no_entrypoint():
    env: dict[str, str] = {}
    for keyword, args in instructions():
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(args))
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["TFHUB_CACHE_DIR"] == "/opt/tfhub_modules"  # where baked hub modules live
    keywords = {k for k, _ in instructions()}
    assert not keywords & {"ENTRYPOINT", "CMD"}, "kfp sets each task's command itself"


def test_the_image_exposes_the_port_the_models_container_spec_names():
    from serving.registry.container_spec import SERVING_PORT

    exposed = [args for keyword, args in instructions() if keyword == "EXPOSE"]
    assert exposed == [str(SERVING_PORT)]


@pytest.fixture(scope="module")
def cloudbuild() -> dict:
    return yaml.safe_load(CLOUDBUILD.read_text())


def build_step(cloudbuild: dict) -> list[str]:
    (step,) = [s for s in cloudbuild["steps"] if s["args"][0] == "build"]
    assert step["name"].startswith("gcr.io/cloud-builders/docker")
    return step["args"]


def option(args: list[str], short: str, long: str) -> list[str]:
    values = []
    for i, arg in enumerate(args):
        if arg in (short, long):
            values.append(args[i + 1])
        elif arg.startswith(long + "="):
            values.append(arg.split("=", 1)[1])
    return values


def test_cloudbuild_builds_the_dockerfile_from_the_repository_root(cloudbuild):
    args = build_step(cloudbuild)
    assert option(args, "-f", "--file") == ["infra/Dockerfile"]
    assert args[-1] == "."


def test_cloudbuild_pushes_what_it_builds(cloudbuild):
    tags = option(build_step(cloudbuild), "-t", "--tag")
    assert sorted(cloudbuild["images"]) == sorted(tags)
    base = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/${_IMAGE}"
    assert sorted(tags) == sorted([f"{base}:${{_TAG}}", f"{base}:latest"])


def test_cloudbuild_substitutions_are_declared_and_used(cloudbuild):
    declared = set(cloudbuild["substitutions"])
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", CLOUDBUILD.read_text()))
    # Cloud Build rejects a build whose user substitutions are unused or undefined.
    assert used == declared
    assert {"_REGION", "_REPOSITORY", "_IMAGE", "_TAG"} <= declared


def test_cloudbuild_defaults_agree_with_the_dockerfile_and_terraform(cloudbuild):
    subs = cloudbuild["substitutions"]
    args = arg_defaults()
    assert subs["_BASE_IMAGE"] == args["BASE_IMAGE"]
    assert subs["_TF_CUDA"] == args["TF_CUDA"]
    build_args = dict(a.split("=", 1) for a in option(build_step(cloudbuild), "", "--build-arg"))
    assert build_args == {
        "BASE_IMAGE": "${_BASE_IMAGE}",
        "TF_CUDA": "${_TF_CUDA}",
        "TFHUB_MODULES": "${_TFHUB_MODULES}",
    }
    assert args["TFHUB_MODULES"] == ""  # nothing baked unless asked
    variables = Config().named("variable")
    assert subs["_REGION"] == variables["region"]["default"]
    assert subs["_REPOSITORY"] == variables["name_prefix"]["default"]  # the docker repo id
    assert subs["_IMAGE"] == variables["image_name"]["default"]
