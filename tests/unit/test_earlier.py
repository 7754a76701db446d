"""helpers.earlier.require: what a notebook builds on, found or named with the notebook that makes it."""

from __future__ import annotations

import json

import pytest

from helpers import earlier, ecr, s3
from helpers.errors import EarlierNotebookNeeded


class TestRequire:
    def test_a_missing_bucket_names_01_and_a_found_one_is_returned(self, kit, capsys):
        """
        1. On moto, with no bucket: require(kit, "bucket", "raw data").
        2. EarlierNotebookNeeded naming both missing things and "run 01_bucket first"; no bucket was made.
        3. After ensure_bucket (01) and with nothing under raw/: "run 02_ingest first".
        4. With an object under runs/<run_id>/raw/: both are found, and one line says so.
        """
        with pytest.raises(EarlierNotebookNeeded, match="the kit's bucket; the raw CSV .* run 01_bucket first"):
            earlier.require(kit, "bucket", "raw data")
        assert kit.client("s3").list_buckets()["Buckets"] == []
        bucket = s3.ensure_bucket(kit)
        with pytest.raises(EarlierNotebookNeeded, match="run 02_ingest first"):
            earlier.require(kit, "bucket", "raw data")
        kit.client("s3").put_object(Bucket=bucket, Key=f"{kit.settings.run_prefix}/raw/iris.data", Body=b"1,2")
        capsys.readouterr()
        found = earlier.require(kit, "bucket", "raw data")
        assert found == {"bucket": bucket, "raw data": f"s3://{bucket}/{kit.settings.run_prefix}/raw/"}
        assert capsys.readouterr().out == "builds on: bucket (01_bucket), raw data (02_ingest) — found\n"

    def test_an_unknown_need_is_a_programming_error(self, kit):
        with pytest.raises(ValueError, match="unknown need"):
            earlier.require(kit, "buckett")


class TestPreprocessImage:
    def test_missing_until_03_pushed_it(self, kit):
        """
        1. On moto (target aws), with the bucket only: require(kit, "bucket", "preprocess image").
        2. EarlierNotebookNeeded: "run 03_preprocess first"; no repository was made.
        3. With the repository but no image tagged latest (03 stopped before docker push): still missing.
        4. After an image is pushed as latest: found, as the repository's URI with :latest.
        """
        s3.ensure_bucket(kit)
        with pytest.raises(EarlierNotebookNeeded, match="preprocessing image .* run 03_preprocess first"):
            earlier.require(kit, "bucket", "preprocess image")
        assert kit.client("ecr").describe_repositories()["repositories"] == []
        uri = ecr.ensure_repository(kit, "preprocess")
        with pytest.raises(EarlierNotebookNeeded, match="run 03_preprocess first"):
            earlier.require(kit, "bucket", "preprocess image")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {}, "layers": []}
        kit.client("ecr").put_image(repositoryName=kit.names.repository("preprocess"),
                                    imageManifest=json.dumps(manifest), imageTag="latest")
        assert earlier.require(kit, "bucket", "preprocess image")["preprocess image"] == f"{uri}:latest"
