"""settings.toml: one place for settings, read as every notebook's defaults; -p and the notebook override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import config, display, settings_file


@pytest.fixture
def settings_at(tmp_path: Path, monkeypatch):
    """Point the kit at a settings file written by the test (PIPELINE_DREAMS_SETTINGS)."""
    for name in (config.ENV_TARGET, config.ENV_REGION, config.ENV_DATA_URL, config.ENV_CLI_PARAMETERS,
                 config.ENV_RUN_ID):
        monkeypatch.delenv(name, raising=False)

    def write(text: str) -> Path:
        path = tmp_path / "settings.toml"
        path.write_text(text)
        monkeypatch.setenv(settings_file.ENV_SETTINGS, str(path))
        return path

    return write


class TestTheKitsFile:
    """The committed settings.toml parses, and its hyperparameters are linear-learner's, as strings."""

    def test_defaults(self, monkeypatch):
        """
        1. Resolve settings with the kit's own settings.toml (no overrides).
        2. Hyperparameters are strings with linear-learner's names; normalize_data is "true" (AWS's default behaviour,
           https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html); iris is the dataset.
        """
        monkeypatch.delenv(settings_file.ENV_SETTINGS, raising=False)
        resolved = config.settings()
        hp = resolved.hyperparameters
        assert all(isinstance(v, str) for v in hp.values())
        assert (hp["predictor_type"], hp["num_classes"], hp["normalize_data"]) == ("multiclass_classifier", "3", "true")
        assert hp["epochs"] == "15" and resolved.sources["epochs"] == "settings.toml"
        assert resolved.dataset["label_column"] == "species"


class TestOverrides:
    """-p (or the notebook's parameters cell) wins over the file; the file wins over the kit's defaults."""

    def test_region_set_once_reaches_every_notebook(self, settings_at):
        """
        1. A settings file with region us-east-1 and epochs 7.
        2. Every connect without a region argument resolves us-east-1 (no notebook repeats it); epochs "7".
        3. An explicit region and -p epochs 3 win, and the table says where each came from.
        """
        settings_at('[cloud]\nregion = "us-east-1"\n[hyperparameters]\nepochs = 7\nnormalize_data = false\n')
        resolved = config.settings()
        assert resolved.region == "us-east-1" and resolved.sources["region"] == "settings.toml"
        assert resolved.hyperparameters == {"epochs": "7", "normalize_data": "false"}
        explicit = config.settings(region="eu-west-1", overrides={"epochs": 3})
        assert explicit.region == "eu-west-1" and explicit.hyperparameters["epochs"] == "3"
        assert explicit.sources["epochs"] == "notebook"

    def test_overrides_from_a_notebooks_names(self, settings_at):
        """
        1. A notebook namespace with epochs=3 (papermill -p), learning_rate=None (not set), unrelated names.
        2. overrides() takes only the names settings.toml knows that are set.
        """
        settings_at('[hyperparameters]\nepochs = 15\nlearning_rate = "auto"\n[dataset]\nlabel_column = "species"\n')
        namespace = {"epochs": 3, "learning_rate": None, "label_column": "cultivar", "pd": object(), "run_id": "x"}
        assert settings_file.overrides(namespace) == {"epochs": 3, "label_column": "cultivar"}

    def test_unknown_override_and_bad_file_are_named(self, settings_at):
        """
        1. Override a name the file does not have; then write a file with a typo'd table and one with bad TOML.
        2. Each raises ConfigError naming the setting or the file.
        """
        path = settings_at('[hyperparameters]\nepochs = 15\n')
        with pytest.raises(config.ConfigError, match="unknown setting.*epoch_count"):
            config.settings(overrides={"epoch_count": 3})
        settings_at('[hyperparameter]\nepochs = 15\n')
        with pytest.raises(config.ConfigError, match=r"unknown table \[hyperparameter\]"):
            config.settings()
        settings_at('[cloud]\nregion = \n')
        with pytest.raises(config.ConfigError, match=f"{path}: not valid TOML"):
            config.settings()

    def test_dataset_drives_num_classes_and_feature_dim(self, settings_at):
        """
        1. A dataset with 4 class names and 2 feature columns, no num_classes/feature_dim override.
        2. num_classes "4" and feature_dim "2"; an explicit -p num_classes wins.
        """
        settings_at('[dataset]\nclass_names = ["a", "b", "c", "d"]\nfeature_columns = ["x", "y"]\n'
                    '[hyperparameters]\nnum_classes = 3\nfeature_dim = "auto"\n')
        derived = config.settings()
        assert (derived.hyperparameters["num_classes"], derived.hyperparameters["feature_dim"]) == ("4", "2")
        assert config.settings(overrides={"num_classes": 5}).hyperparameters["num_classes"] == "5"


class TestTyposAreRefused:
    """A misspelt name in settings.toml or a parameters cell is refused, naming the nearest known name."""

    def test_misspelt_hyperparameter_in_the_file(self, settings_at):
        """
        1. settings.toml's [hyperparameters] has learning_rat = 0.1 (learning_rate misspelt).
        2. Resolving the settings (every notebook's first cell) raises ConfigError naming the file, learning_rat and
           "did you mean learning_rate?"; a real linear-learner name (optimizer) that the file did not list is fine.
        """
        path = settings_at('[hyperparameters]\nlearning_rat = 0.1\n')
        with pytest.raises(config.ConfigError, match=f"{path}.*learning_rat \\(did you mean learning_rate\\?\\)"):
            config.settings()
        settings_at('[hyperparameters]\noptimizer = "adam"\n')
        assert config.settings().hyperparameters["optimizer"] == "adam"
        settings_at('[dataset]\nlabel_colum = "x"\n')
        with pytest.raises(config.ConfigError, match=r"label_colum \(did you mean label_column\?\)"):
            config.settings()

    def test_misspelt_name_in_the_parameters_cell(self):
        """
        1. A notebook namespace whose In (IPython's cell history) holds the parameters cell with `epcohs = 2`.
        2. overrides() raises UnknownSettingError naming epcohs and epochs. Corrected and run again, it is accepted
           (the earlier run stays in In); 06's min_accuracy is accepted when the notebook declares it.
        """
        cell = '# Parameters (papermill overrides these)\nrun_id = "demo"\nepcohs = 2\n'
        with pytest.raises(settings_file.UnknownSettingError, match=r"epcohs \(did you mean epochs\?\)"):
            settings_file.overrides({"In": ["", cell], "epcohs": 2})
        fixed = cell.replace("epcohs", "epochs")
        assert settings_file.overrides({"In": ["", cell, fixed], "epochs": 2}) == {"epochs": 2}
        injected = "# Parameters\nepochs = 3\nmin_accuracy = 0.5\n"  # what papermill injects for -p, in every notebook
        assert settings_file.overrides({"In": ["", fixed, injected], "epochs": 3}) == {"epochs": 3}
        own = fixed + "min_accuracy = 0.9\n"  # 06's own parameter
        with pytest.raises(settings_file.UnknownSettingError, match="min_accuracy"):
            settings_file.overrides({"In": ["", own], "epochs": 3})
        assert settings_file.overrides({"In": ["", own], "epochs": 3},
                                       notebook_parameters=("min_accuracy",)) == {"epochs": 3}

    def test_misspelt_override_names_the_nearest(self):
        """1. Resolve with overrides={"epoch": 3}. 2. ConfigError: "epoch (did you mean epochs?)"."""
        with pytest.raises(config.ConfigError, match=r"epoch \(did you mean epochs\?\)"):
            config.settings(overrides={"epoch": 3})


class TestFingerprint:
    """Names end in a hash of settings: equal settings, equal names; any change, a new name."""

    def test_stable_and_sensitive(self):
        """1. The same settings (keys in another order) hash alike. 2. epochs 15 → 3 changes the hash."""
        first = settings_file.fingerprint({"epochs": "15", "mini_batch_size": "32"})
        assert first == settings_file.fingerprint({"mini_batch_size": "32", "epochs": "15"})
        assert first != settings_file.fingerprint({"epochs": "3", "mini_batch_size": "32"})
        assert len(first) == 6


class TestSettingsTable:
    """Each notebook shows the settings it runs with, and where each came from."""

    def test_rows(self, settings_at):
        """
        1. A kit (no cloud needed: describe() is replaced) with epochs from -p.
        2. The table has the hyperparameters and dataset with their sources.
        """
        settings_at('[hyperparameters]\nepochs = 15\n[dataset]\nlabel_column = "species"\n')

        class FakeKit:
            settings = config.settings(overrides={"epochs": 2})

            @staticmethod
            def describe():
                return {"target": "local"}

        table = display.settings(FakeKit(), full=True)
        assert table.loc["hyperparameters.epochs"].tolist() == ["2", "notebook"]
        assert table.loc["dataset.label_column"].tolist() == ["species", "settings.toml"]

    def test_every_source_of_data_url_shows_with_its_origin(self, settings_at, monkeypatch):
        """
        1. settings.toml names a data_url; then PIPELINE_DREAMS_DATA_URL names another; then the notebook a third;
           then the same name comes with -p (the runner lists -p names in PIPELINE_DREAMS_CLI_PARAMETERS).
        2. The table has a data_url row each time, with the value that runs and where it came from.
        """
        settings_at('[cloud]\ndata_url = "http://127.0.0.1:9/file.csv"\n')

        def row(**arguments):
            class FakeKit:
                settings = config.settings(**arguments)

                @staticmethod
                def describe():
                    return {}

            return display.settings(FakeKit(), full=True).loc["data_url"].tolist()

        assert row() == ["http://127.0.0.1:9/file.csv", "settings.toml"]
        monkeypatch.setenv(config.ENV_DATA_URL, "http://127.0.0.1:9/env.csv")
        assert row() == ["http://127.0.0.1:9/env.csv", "environment PIPELINE_DREAMS_DATA_URL"]
        assert row(data_url="http://127.0.0.1:9/cell.csv") == ["http://127.0.0.1:9/cell.csv", "notebook"]
        monkeypatch.setenv(config.ENV_CLI_PARAMETERS, "data_url,epochs")
        assert row(data_url="http://127.0.0.1:9/p.csv") == ["http://127.0.0.1:9/p.csv", "-p"]


class TestExecutionReplaces:
    """A pipeline run with changed settings is a new execution, and the notebook says which one it replaces."""

    def test_changed_epochs_names_the_earlier_execution(self, kit, capsys):
        """
        1. On moto, start an execution named by pipeline_input with epochs 15, then with epochs 3, same run id.
        2. Two names differing only in their hash; the second start prints
           "execution … replaces …: epochs 15 → 3".
        """
        import dataclasses
        import json

        from helpers import s3, stepfunctions

        bucket = s3.ensure_bucket(kit)
        role = kit.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        machine = kit.client("stepfunctions").create_state_machine(
            name="m", roleArn=role, definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                                               "End": True}}}))
        arn = machine["stateMachineArn"]
        names = []
        for epochs in ("15", "3"):
            kit.settings = dataclasses.replace(kit.settings, hyperparameters={**kit.settings.hyperparameters,
                                                                              "epochs": epochs})
            run, payload = stepfunctions.pipeline_input(kit, bucket, "pipeline")
            stepfunctions.start(kit, arn, payload, name=run)
            names.append(run)
        assert names[0] != names[1] and names[0][:-6] == names[1][:-6]
        assert f"execution {names[1]} replaces {names[0]}: epochs 15 → 3" in capsys.readouterr().out


class TestHyperparameterNamesMatchTheStandIn:
    def test_the_kit_and_the_local_linear_learner_know_the_same_names(self):
        """
        1. The names the kit accepts (settings_file.LINEAR_LEARNER_HYPERPARAMETERS, from AWS's page
           https://docs.aws.amazon.com/sagemaker/latest/dg/ll_hyperparameters.html) and the local stand-in's.
        2. The same set: a name one accepts the other does not would pass the kit and fail the job, or the reverse.
        """
        from localcloud.sagemaker.algorithms.linear_learner import train

        assert settings_file.LINEAR_LEARNER_HYPERPARAMETERS == train.HONOURED | train.NOT_IMPLEMENTED


class TestSettingsShownWhereTheyDiffer:
    def test_short_table_has_what_differs(self, settings_at, capsys):
        """
        1. A kit whose epochs comes from the notebook, everything else from the file or defaults.
        2. The short table (every notebook after 01) has target, run id and epochs, and a line counts the rest;
           the full one (01) has every row.
        """
        settings_at('[hyperparameters]\nepochs = 15\nl1 = "auto"\n[dataset]\nlabel_column = "species"\n')

        class FakeKit:
            settings = config.settings(overrides={"epochs": 2})

            @staticmethod
            def describe():
                return {"account": "123456789012", "bucket": "b"}

        short = display.settings(FakeKit())
        assert list(short.index) == ["target", "run id", "hyperparameters.epochs"]
        full = display.settings(FakeKit(), full=True)
        assert f"{len(full) - 3} more settings as in 01's table" in capsys.readouterr().out
        assert {"data_url", "account", "dataset.label_column", "hyperparameters.l1"} <= set(full.index)


class TestFieldsAndJson:
    def test_a_long_value_is_shown_whole_and_json_is_not_escaped_twice(self):
        """
        1. A record with a 300-character value; a dict holding a JSON string (07's dataset_json).
        2. fields() shows the value whole; json_block() shows the inner JSON as an object, folded in <details>.
        """
        long = "x" * 300
        assert long in repr(display.fields({"job_names": {"train": long}}))
        block = display.json_block({"dataset_json": '{"label_column": "species"}'}, "the input")
        assert '\\"' not in repr(block) and '"label_column": "species"' in repr(block)
        assert block._repr_html_().startswith("<details><summary>the input</summary><pre>")
