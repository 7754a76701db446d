"""Tests for the fetch_data handler (src/lambdas/fetch_data.py), called directly as Lambda would call it.

In the style of aws-samples/serverless-test-samples: the handler is loaded from its file, given an event from
tests/events/handler_*.json, and run against moto in-process. It downloads from a real HTTP server on 127.0.0.1
(never the internet).
"""

from __future__ import annotations

import boto3
import pytest
import requests
from _handler_support import IRIS, REGION, QuietFiles, keys, load_event, load_handler

from helpers import config

fetch_data = load_handler("fetch_data")


class TestFetchDataDownloads:
    """fetch_data puts the downloaded bytes at <run_prefix>/raw/iris.data."""

    def test_event_from_file(self, bucket, data_server, capsys):
        """
        1. Fill tests/events/handler_fetch_data.json with the bucket and a 127.0.0.1 URL of iris.data.
        2. The handler writes exactly one object, at runs/handler-tests/raw/iris.data, with iris.data's bytes.
        3. It returns the event plus the object's URI and size.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/iris.data", bucket=bucket)
        result = fetch_data.handler(event, None)
        key = "runs/handler-tests/raw/iris.data"
        assert keys(bucket) == [key]
        stored = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)
        assert stored["Body"].read() == IRIS.read_bytes()
        assert stored["ContentType"] == "text/csv"
        assert result == {**event, "raw_s3_uri": f"s3://{bucket}/{key}", "raw_bytes": IRIS.stat().st_size,
                          "source": event["data_url"],
                          "job_names": config.Names("pipeline-dreams", "0" * 12, REGION).jobs(event["run_id"])}
        assert f"into s3://{bucket}/{key}" in capsys.readouterr().out

    def test_settings_from_environment(self, bucket, data_server, monkeypatch):
        """
        1. Give an empty event; set DATA_URL, BUCKET and RUN_PREFIX (with stray slashes) on the function.
        2. The object lands under the cleaned prefix and the result reports it.
        """
        monkeypatch.setenv("DATA_URL", f"{data_server}/iris.data")
        monkeypatch.setenv("BUCKET", bucket)
        monkeypatch.setenv("RUN_PREFIX", "/runs/from-env/")
        result = fetch_data.handler({}, None)
        assert keys(bucket) == ["runs/from-env/raw/iris.data"]
        assert (result["run_prefix"], result["bucket"]) == ("runs/from-env", bucket)

    def test_event_beats_environment(self, bucket, data_server, monkeypatch):
        """
        1. Set BUCKET and DATA_URL to wrong values on the function, and the right ones in the event.
        2. The event's values are used.
        """
        monkeypatch.setenv("BUCKET", "not-this-bucket")
        monkeypatch.setenv("DATA_URL", f"{data_server}/not-this.data")
        fetch_data.handler({"data_url": f"{data_server}/iris.data", "bucket": bucket, "run_prefix": "runs/e"}, None)
        assert keys(bucket) == ["runs/e/raw/iris.data"]
        assert QuietFiles.requested == ["/iris.data"]


class TestFetchDataMissingSettings:
    """A missing URL or bucket is named, with the variable that could provide it."""

    @pytest.mark.parametrize("missing, variable", [("data_url", "DATA_URL"), ("bucket", "BUCKET")])
    def test_value_error_names_key_and_variable(self, bucket, data_server, missing, variable):
        """
        1. Drop one of data_url and bucket from the event (and leave its variable unset).
        2. ValueError names the key and the variable; nothing was downloaded or written.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/iris.data", bucket=bucket)
        del event[missing]
        with pytest.raises(ValueError) as raised:
            fetch_data.handler(event, None)
        assert f"'{missing}'" in str(raised.value) and variable in str(raised.value)
        assert QuietFiles.requested == []
        assert keys(bucket) == []


class TestFetchDataBadDownloads:
    """A failed or empty download raises and writes nothing."""

    def test_http_404_raises(self, bucket, data_server):
        """
        1. Point data_url at a file the server does not have.
        2. requests' HTTPError (404) is raised and the bucket stays empty.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/missing.data", bucket=bucket)
        with pytest.raises(requests.HTTPError) as raised:
            fetch_data.handler(event, None)
        assert raised.value.response.status_code == 404
        assert keys(bucket) == []

    def test_empty_body_raises(self, bucket, data_server):
        """
        1. Point data_url at a file holding only a newline.
        2. ValueError says the body was empty and where nothing was written; the bucket stays empty.
        """
        event = load_event("handler_fetch_data", data_url=f"{data_server}/empty.data", bucket=bucket)
        with pytest.raises(ValueError, match="empty body; nothing was written to s3://"):
            fetch_data.handler(event, None)
        assert keys(bucket) == []


class TestFetchDataCopiesAnUpload:
    """The trigger path (notebook 07): an uploaded object becomes the raw data of a run of its own."""

    def test_upload_is_copied_into_a_new_run(self, bucket):
        """1. Upload a CSV under incoming/ (a key with a space, as people name files).
        2. Invoke with the event EventBridge's input transformer makes: source_s3_uri and event_id, no run_id.
        3. The object is copied byte for byte to runs/t-<first 8 of the event id>/raw/new_batch.csv (named after
           the upload, so later errors name the learner's file), and the result carries the run's names.
        """
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=bucket, Key="incoming/new batch.csv", Body=IRIS.read_bytes())
        event = load_event("handler_fetch_data_upload", bucket=bucket)
        result = fetch_data.handler(event, None)
        assert result["run_id"] == "t-6f1c2a9e" and result["run_prefix"] == "runs/t-6f1c2a9e"
        assert result["raw_s3_uri"] == f"s3://{bucket}/runs/t-6f1c2a9e/raw/new_batch.csv"
        assert result["min_accuracy"] == 0.9  # the rest of the event passes through
        copied = s3.get_object(Bucket=bucket, Key="runs/t-6f1c2a9e/raw/new_batch.csv")["Body"].read()
        assert copied == IRIS.read_bytes()

    def test_missing_upload_raises_and_writes_nothing(self, bucket):
        """1. Point source_s3_uri at a key that does not exist.
        2. The handler raises NoSuchKey and no raw object appears under runs/.
        """
        event = load_event("handler_fetch_data_upload", bucket=bucket)
        with pytest.raises(boto3.client("s3", region_name=REGION).exceptions.NoSuchKey):
            fetch_data.handler(event, None)
        assert not [k for k in keys(bucket) if k.startswith("runs/")]

    def test_bad_source_uri_is_named(self, bucket):
        """1. source_s3_uri without a key. 2. ValueError naming the value."""
        with pytest.raises(ValueError, match="s3://only-a-bucket"):
            fetch_data.handler({"bucket": bucket, "source_s3_uri": "s3://only-a-bucket", "run_id": "x"}, None)
