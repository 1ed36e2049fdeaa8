"""Which registered version a batch job uses: a number, an alias, or the champion (no
TensorFlow, so that commands check it before any step starts)."""

from __future__ import annotations

from serving.contracts.errors import InputError
from serving.registry.local_registry import LocalModelRegistry, version_number


def chosen_version(registry: LocalModelRegistry, model_name: str, model_version: str) -> int:
    """The version `model_version` names (a number or an alias; "" is the champion)."""
    wanted = (model_version or "").strip() or "champion"
    aliases = registry.aliases(model_name)
    versions = registry.versions(model_name)
    if version_number(wanted) and int(wanted) in versions:
        version = int(wanted)
    elif wanted in aliases:
        version = aliases[wanted]
    else:
        if not versions:
            raise InputError(
                f"Model {model_name!r} has no versions in {registry.root}: train one first "
                "(make run PIPELINE=<its case study>), or point registry_uri at your registry."
            )
        raise InputError(
            f"Model {model_name!r} has no version or alias {wanted!r} in {registry.root}: "
            f"its versions are {versions}, its aliases {sorted(aliases) or 'none'}."
        )
    problem = registry.version_problem(model_name, version)
    if problem:
        raise InputError(f"{model_name} version {version} cannot be used: {problem}.")
    return version
