"""One declaration per parameter: the copies kfp needs agree with it, and drift is caught.

Each case's training config dataclass declares its training parameters and
their defaults. kfp reads a component's parameters from its literal signature
(a lightweight component runs its own source) and the pipelines keep literal
signatures too (each reads as the interface Vertex AI shows), so here the
copies are checked against the one declaration: the train component's
parameters are the config's fields; every task input wired from a pipeline
parameter has that parameter's type and default, on both targets; every field
reaches training; the deployment and machine parameters are the same in every
pipeline; and the ingest component agrees with `trainer.task`'s ingest flags.
Each check is a function returning messages that name the parameter, fed a
drifted copy too, so that a check that reports nothing would fail.
"""

import copy
import dataclasses
import inspect
import typing

import pytest
import yaml
from google_cloud_pipeline_components.v1.custom_job import CustomTrainingJobOp
from google_cloud_pipeline_components.v1.endpoint import ModelDeployOp
from google_cloud_pipeline_components.v1.model import ModelUploadOp

from components.text.ingest import ingest_text_file
from components.text.train import train_text_classifier
from components.text.tuning import trial_settings as text_trial_settings
from components.timeseries.ingest import ingest_bigquery
from components.timeseries.train import train_forecaster
from components.timeseries.tuning import trial_settings as timeseries_trial_settings
from components.vision.ingest import ingest_image_folder
from components.vision.train import train_image_classifier
from components.vision.tuning import trial_settings as vision_trial_settings
from pipelines.catalog import PIPELINES, get_pipeline
from pipelines.data_checks import DataChecks
from pipelines.targets import Deployment, TrainingResources
from pipelines.tuning import TuningStudy
from tests.pipelines.compiled_spec import GCPC_IMAGE, MULTI, SINGLE, Spec
from trainer.catalog import case_study
from trainer.distribution.options import pick_fields
from trainer.task import config_flags, ingest_flags
from trainer.vision.config import VisionTrainConfig

Declaration = dict[str, tuple[type, object]]  # parameter name -> (type, default)

PARAMETER_TYPES = (str, int, float, bool, dict, list)  # kfp's; artifacts are Input/Output[...]
TRAIN_COMPONENTS = {
    "vision": train_image_classifier,
    "timeseries": train_forecaster,
    "text": train_text_classifier,
}
# The tuning step's settings (components/<case>/tuning.py): the config's fields too.
SETTINGS_COMPONENTS = {
    "vision": vision_trial_settings,
    "timeseries": timeseries_trial_settings,
    "text": text_trial_settings,
}
INGEST_COMPONENTS = {
    "vision": ingest_image_folder,
    "timeseries": ingest_bigquery,
    "text": ingest_text_file,
}
# Train component inputs that are not training settings (the model's serving container).
NOT_CONFIG = {"serving_image", "request_log_uri", "tuning_result"}
# Parameters every pipeline has, the same everywhere: where models go, the machines and the
# data checks.
SHARED = [
    f.name
    for f in dataclasses.fields(Deployment)
    + dataclasses.fields(TrainingResources)
    + dataclasses.fields(DataChecks)
    + dataclasses.fields(TuningStudy)
]
SHARED += ["serving_image", "request_log_uri", "regression_tolerance"]
# ...but for the defaults of the registered model and endpoint names, and of the serving
# machine (an image model serves on a bigger one), which deployed schedules rely on.
PER_CASE_DEFAULTS = {"model_name", "endpoint_name", "serving_machine_type"}
MODEL_NAMES = {"vision": "vision", "timeseries": "forecaster", "text": "text"}
# The defaults GCPC's steps declare ("", 0, {}): GCPC's, not a copy of the pipeline's.
GCPC_DEFAULTS = [
    (name, spec.default)
    for op in (CustomTrainingJobOp, ModelUploadOp, ModelDeployOp)
    for name, spec in op.component_spec.inputs.items()
]


def declared(config: type) -> Declaration:
    """A config dataclass's fields, as `trainer.task` makes its flags of them."""
    return {name: (kind, default) for name, kind, default in config_flags(config)}


def signature(function) -> Declaration:
    """A component's (its python_func) or a function's parameters, artifacts left out."""
    function = getattr(function, "python_func", function)
    parameters = inspect.signature(function, eval_str=True).parameters.values()
    return {
        p.name: (p.annotation, p.default) for p in parameters if p.annotation in PARAMETER_TYPES
    }


def mismatches(expected: Declaration, actual: Declaration, where: str) -> list[str]:
    """What `actual` declares otherwise than `expected`, one message per parameter."""
    found = [f"{where}: {n} is missing" for n in sorted(expected.keys() - actual.keys())]
    found += [
        f"{where}: {n} is not declared there" for n in sorted(actual.keys() - expected.keys())
    ]
    for name in sorted(expected.keys() & actual.keys()):
        (kind, default), (actual_kind, actual_default) = expected[name], actual[name]
        if actual_kind is not kind:
            found.append(f"{where}: {name} is {actual_kind.__name__}, not {kind.__name__}")
        elif (type(actual_default), actual_default) != (type(default), default):
            found.append(f"{where}: {name} defaults to {actual_default!r}, not {default!r}")
    return found


def overlap(declaration: Declaration, names) -> Declaration:
    return {name: declaration[name] for name in declaration.keys() & set(names)}


def component_mismatches(component, config: type) -> list[str]:
    """The train component's parameters but serving_image are exactly the config's fields."""
    parameters = {n: d for n, d in signature(component).items() if n not in NOT_CONFIG}
    return mismatches(declared(config), parameters, getattr(component, "name", "component"))


def wiring_mismatches(spec: Spec) -> list[str]:
    """Every task input wired from a pipeline parameter (through any condition DAGs) has the
    parameter's type and, where the component input has a default that the project declares
    (not GCPC), the parameter's default."""
    root = spec.doc["root"]["inputDefinitions"]["parameters"]
    found = []
    for task in spec.all_tasks:
        definitions = spec.component_inputs(task).get("parameters", {})
        gcpc = task in spec.leaf_tasks() and spec.container(task)["image"] == GCPC_IMAGE
        for name in task.spec.get("inputs", {}).get("parameters", {}):
            kind, parameter = spec.source(task, "parameters", name)
            if kind != "parameter":
                continue
            where = f"{task.name}.{name} <- {parameter}"
            given, wanted = definitions[name], root[parameter]
            if given["parameterType"] != wanted["parameterType"]:
                found.append(f"{where}: {given['parameterType']}, not {wanted['parameterType']}")
            elif gcpc and (name, given.get("defaultValue")) in GCPC_DEFAULTS:
                continue
            elif "defaultValue" in given and given["defaultValue"] != wanted.get("defaultValue"):
                found.append(
                    f"{where}: defaults to {given['defaultValue']!r}, "
                    f"not {wanted.get('defaultValue')!r}"
                )
    return found


def training_mismatches(spec: Spec, config: type, tasks: list[str]) -> list[str]:
    """Every config field reaches each training task from the pipeline parameter so named."""
    found = []
    for name in tasks:
        task = spec.task(name)
        bound = task.spec["inputs"]["parameters"]
        for field in declared(config):
            if field not in bound or spec.source(task, "parameters", field) != (
                "parameter",
                field,
            ):
                found.append(f"{name}: {field} is not the pipeline parameter {field}")
    return found


def shared_mismatches(pipelines: dict[str, Declaration]) -> list[str]:
    """The SHARED parameters have the same names, types and defaults in every pipeline (the
    PER_CASE_DEFAULTS but their defaults)."""
    first, *others = sorted(pipelines)
    reference = {n: pipelines[first][n] for n in SHARED if n in pipelines[first]}
    found = [f"{first}: {n} is missing" for n in SHARED if n not in reference]
    for other in others:
        wanted = dict(reference)
        for name in PER_CASE_DEFAULTS & wanted.keys() & pipelines[other].keys():
            wanted[name] = (wanted[name][0], pipelines[other][name][1])
        found += mismatches(wanted, overlap(pipelines[other], SHARED), f"{other} (vs {first})")
    return found


def ingest_mismatches(declaration: Declaration, flags, where: str) -> list[str]:
    """The ingest options declared here that `trainer.task` also has as flags agree with them."""
    options = {name: (kind, default) for name, kind, default in flags}
    names = options.keys() & declaration.keys()
    return mismatches(overlap(options, names), overlap(declaration, names), where)


def pipeline_signature(name: str) -> Declaration:
    return signature(get_pipeline(name).pipeline_func)


def test_every_train_component_takes_exactly_its_config_fields():
    assert sorted(TRAIN_COMPONENTS) == sorted(PIPELINES)
    for name, component in TRAIN_COMPONENTS.items():
        assert component_mismatches(component, case_study(name).config) == [], name
        settings = SETTINGS_COMPONENTS[name]
        assert component_mismatches(settings, case_study(name).config) == [], name


def test_every_input_wired_from_a_pipeline_parameter_has_its_type_and_default(compiled):
    assert wiring_mismatches(compiled.vertex) == []
    assert wiring_mismatches(compiled.local) == []


def test_every_config_field_reaches_training_from_its_pipeline_parameter(compiled):
    config = case_study(compiled.name).config
    assert training_mismatches(compiled.vertex, config, [SINGLE, MULTI]) == []
    assert training_mismatches(compiled.local, config, [SINGLE]) == []


def test_the_deployment_and_machine_parameters_are_the_same_in_every_pipeline():
    pipelines = {name: pipeline_signature(name) for name in PIPELINES}
    assert shared_mismatches(pipelines) == []
    for name, parameters in pipelines.items():
        assert parameters["model_name"][1] == parameters["endpoint_name"][1] == MODEL_NAMES[name]


def test_ingest_options_agree_with_the_ingest_flags_of_trainer_task():
    """The ingest component's inputs and the pipeline's parameters of the flags' names."""
    assert sorted(INGEST_COMPONENTS) == sorted(PIPELINES)
    for name, component in INGEST_COMPONENTS.items():
        flags = ingest_flags(case_study(name).ingest)
        inputs, pipeline = signature(component), pipeline_signature(name)
        assert ingest_mismatches(inputs, flags, component.name) == []
        assert ingest_mismatches(pipeline, flags, name) == []
        assert {flag for flag, _, _ in flags} <= inputs.keys() | pipeline.keys(), name


def test_pick_fields_takes_a_configs_fields_by_name_and_names_the_missing_ones():
    """The pass-through of components and pipelines: other names are ignored."""
    values = {**dataclasses.asdict(VisionTrainConfig(head_units=7)), "dataset": "d"}
    assert VisionTrainConfig(**pick_fields(VisionTrainConfig, values)).head_units == 7
    del values["dropout"], values["strategy"]
    with pytest.raises(TypeError, match=r"VisionTrainConfig fields strategy, dropout are not"):
        pick_fields(VisionTrainConfig, values)


def test_pick_fields_refuses_an_import_that_shadows_a_parameter():
    values = {**dataclasses.asdict(VisionTrainConfig()), "dropout": dataclasses.replace}
    with pytest.raises(TypeError, match=r"fields dropout name something else"):
        pick_fields(VisionTrainConfig, values)


def test_a_config_default_the_component_does_not_copy_is_reported():
    field = ("head_units", int, dataclasses.field(default=64))
    drifted = dataclasses.make_dataclass(
        "Drifted", [field], bases=(VisionTrainConfig,), frozen=True
    )
    assert component_mismatches(train_image_classifier, drifted) == [
        "train-image-classifier: head_units defaults to 128, not 64"
    ]


def test_a_component_parameter_of_another_type_missing_or_extra_is_reported():
    small = dataclasses.make_dataclass(
        "Small", [("epochs", int, 3), ("rate", float, 0.1), ("seed", int, 1)]
    )

    def component(
        epochs: str = "3", rate: float = 0.1, extra: bool = True, serving_image: str = ""
    ):
        pass

    assert component_mismatches(component, small) == [
        "component: seed is missing",
        "component: extra is not declared there",
        "component: epochs is str, not int",
    ]


def write_drifted(compiled_spec: Spec, tmp_path, change: typing.Callable[[dict], None]) -> Spec:
    doc = copy.deepcopy(compiled_spec.doc)
    change(doc)
    path = tmp_path / "drifted.yaml"
    path.write_text(yaml.safe_dump(doc))
    return Spec(path)


def test_a_pipeline_default_or_type_that_a_task_does_not_share_is_reported(compiled, tmp_path):
    def change(doc):
        parameters = doc["root"]["inputDefinitions"]["parameters"]
        parameters["seed"]["defaultValue"] = 7
        parameters["train_replica_count"]["parameterType"] = "NUMBER_DOUBLE"

    drifted = write_drifted(compiled.vertex, tmp_path, change)
    found = set(wiring_mismatches(drifted)) - set(wiring_mismatches(compiled.vertex))
    assert any(m.startswith("train.seed <- seed: defaults to 42") for m in found), found
    assert any(m.startswith("train-multi-worker.seed <- seed: defaults to 42") for m in found)
    assert (
        "worker-pools.replica_count <- train_replica_count: NUMBER_INTEGER, not NUMBER_DOUBLE"
        in found
    )
    assert all(" <- seed: " in m or " <- train_replica_count: " in m for m in found), found


def test_a_config_field_that_does_not_reach_training_is_reported(compiled, tmp_path):
    config = case_study(compiled.name).config
    field = dataclasses.fields(config)[-1].name

    def change(doc):
        [train] = [
            t for t in doc["root"]["dag"]["tasks"].values() if t["taskInfo"]["name"] == SINGLE
        ]
        train["inputs"]["parameters"][field] = {"runtimeValue": {"constant": 1}}

    drifted = write_drifted(compiled.local, tmp_path, change)
    assert training_mismatches(drifted, config, [SINGLE]) == [
        f"train: {field} is not the pipeline parameter {field}"
    ]


def test_a_shared_parameter_that_drifts_in_one_pipeline_is_reported():
    pipelines = {name: pipeline_signature(name) for name in PIPELINES}
    pipelines["vision"]["traffic_split"] = (dict, {"0": 50})
    pipelines["vision"]["train_replica_count"] = (float, 1.0)
    del pipelines["timeseries"]["serving_image"]
    assert shared_mismatches(pipelines) == [
        "timeseries (vs text): serving_image is missing",
        "vision (vs text): traffic_split defaults to {'0': 50}, not {'0': 100}",
        "vision (vs text): train_replica_count is float, not int",
    ]


def test_an_ingest_option_that_drifts_from_its_flag_is_reported():
    flags = [
        (n, k, 0.3 if n == "test_fraction" else d)
        for n, k, d in ingest_flags(case_study("vision").ingest)
    ]
    assert ingest_mismatches(signature(ingest_image_folder), flags, "ingest") == [
        "ingest: test_fraction defaults to 0.15, not 0.3"
    ]
