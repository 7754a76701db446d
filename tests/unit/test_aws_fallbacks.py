"""On AWS with no Docker engine, notebook 02 carries on without its image Lambda."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from helpers import ecr, s3
from helpers.paths import DATA_DIR


@pytest.fixture
def data_server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA_DIR))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/iris.data"
    server.shutdown()


class TestPublishImageWithoutDocker:
    def test_optional_image_prints_the_commands_and_returns_none(self, make_kit, monkeypatch, capsys):
        """1. Target aws, no Docker engine answers.
        2. publish_image(required=False) returns None and prints the docker build/push commands.
        3. The default (required) raises DockerUnavailable with the same commands.
        """
        kit = make_kit(target="aws", region="eu-west-1")
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: False)
        assert ecr.publish_image(kit, "ingest", required=False) is None
        printed = capsys.readouterr().out
        assert "--provenance=false" in printed and "docker push" in printed and "docker/ingest/Dockerfile" in printed
        with pytest.raises(ecr.DockerUnavailable, match="docker build"):
            ecr.publish_image(kit, "ingest")


class TestPutRawDataWithoutTheLambda:
    def test_data_lands_where_the_lambda_would_put_it(self, make_kit, data_server):
        """1. A kit whose data_url is served on 127.0.0.1.
        2. put_raw_data writes <run_prefix>/raw/iris.data with the served bytes.
        3. It returns the fields the ingest Lambda returns (raw_s3_uri, raw_bytes, …).
        """
        kit = make_kit(target="aws", region="eu-west-1", data_url=data_server)
        bucket = s3.ensure_bucket(kit)
        result = s3.put_raw_data(kit, bucket, "runs/fallback")
        assert result["raw_s3_uri"] == f"s3://{bucket}/runs/fallback/raw/iris.data"
        body = kit.client("s3").get_object(Bucket=bucket, Key="runs/fallback/raw/iris.data")["Body"].read()
        assert body == (DATA_DIR / "iris.data").read_bytes() and result["raw_bytes"] == len(body)
