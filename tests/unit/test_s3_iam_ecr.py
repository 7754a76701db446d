"""Tests for helpers.s3, helpers.iam and helpers.ecr against moto in-process.

Each get-or-create helper is called twice: the second call must neither fail nor
create a duplicate, as when a learner re-runs a notebook cell.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from helpers import config, ecr, iam, s3
from helpers.paths import IAM_DIR, PROJECT_ROOT


def record_calls(client, operation: str) -> list[dict]:
    """Record the parameters of every ``operation`` call the client makes."""
    calls: list[dict] = []
    service = client.meta.service_model.service_name

    def capture(params, **_):
        calls.append(dict(params))

    client.meta.events.register(f"provide-client-params.{service}.{operation}", capture)
    return calls


class TestEnsureBucketUsEast1:
    """us-east-1 refuses a LocationConstraint naming itself: none is sent."""

    def test_created_without_location_constraint(self, make_kit, capsys):
        """
        1. Build a Kit in us-east-1 and record CreateBucket calls.
        2. ensure_bucket() creates the bucket with no CreateBucketConfiguration.
        3. S3 reports the bucket's location as the default (None).
        """
        kit = make_kit(region="us-east-1")
        creates = record_calls(kit.client("s3"), "CreateBucket")
        name = s3.ensure_bucket(kit)
        assert name == kit.names.bucket
        assert creates == [{"Bucket": name}]
        assert kit.client("s3").get_bucket_location(Bucket=name)["LocationConstraint"] is None
        assert f"bucket {name} created in us-east-1" in capsys.readouterr().out


class TestEnsureBucketOtherRegion:
    """Every other region needs a LocationConstraint naming it."""

    def test_created_with_location_constraint(self, make_kit):
        """
        1. Build a Kit in eu-west-1 and record CreateBucket calls.
        2. ensure_bucket() sends LocationConstraint eu-west-1.
        3. get_bucket_location answers eu-west-1.
        """
        kit = make_kit(region="eu-west-1")
        creates = record_calls(kit.client("s3"), "CreateBucket")
        name = s3.ensure_bucket(kit)
        assert creates == [{"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}]
        assert kit.client("s3").get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"

    def test_tagged_and_private(self, make_kit):
        """
        1. ensure_bucket() in eu-west-1 for a given run id.
        2. The bucket carries the kit and run tags, and blocks every kind of public access.
        """
        kit = make_kit(run_id="tagged-run")
        name = s3.ensure_bucket(kit)
        client = kit.client("s3")
        tags = {t["Key"]: t["Value"] for t in client.get_bucket_tagging(Bucket=name)["TagSet"]}
        assert tags == {config.TAG_KIT: config.KIT, config.TAG_RUN: "tagged-run"}
        block = client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                         "RestrictPublicBuckets": True}


class TestEnsureBucketIdempotent:
    """A second call finds the bucket, creates nothing and leaves the same tags."""

    @pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
    def test_second_call(self, make_kit, capsys, region):
        """
        1. Call ensure_bucket() twice, recording CreateBucket calls.
        2. Both return the same name; CreateBucket ran once; the second call says the bucket exists.
        3. The tags are those of the first call, and there is one bucket.
        """
        kit = make_kit(region=region)
        creates = record_calls(kit.client("s3"), "CreateBucket")
        first = s3.ensure_bucket(kit)
        tags_before = kit.client("s3").get_bucket_tagging(Bucket=first)["TagSet"]
        second = s3.ensure_bucket(kit)
        assert first == second
        assert len(creates) == 1
        assert f"bucket {first} exists" in capsys.readouterr().out
        assert kit.client("s3").get_bucket_tagging(Bucket=first)["TagSet"] == tags_before
        assert [b["Name"] for b in kit.client("s3").list_buckets()["Buckets"]] == [first]

    def test_other_head_errors_are_not_swallowed(self, make_kit, monkeypatch):
        """
        1. Make head_bucket fail with 403 (a bucket name owned by someone else).
        2. ensure_bucket() raises instead of trying to create it.
        """
        from botocore.exceptions import ClientError

        kit = make_kit()
        client = kit.client("s3")

        def forbidden(**_):
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadBucket")

        monkeypatch.setattr(client, "head_bucket", forbidden)
        creates = record_calls(client, "CreateBucket")
        with pytest.raises(ClientError, match="403"):
            s3.ensure_bucket(kit)
        assert creates == []


class TestS3Tables:
    """Listings and reads return what was written, as small tables."""

    def test_list_read_and_summarise(self, make_kit, tmp_path):
        """
        1. Create the bucket and upload a CSV under a run prefix and one elsewhere.
        2. list_objects() shows only the run's key with its size; read_csv() reads it back.
        3. bucket_summary() shows the region and tags; an empty prefix gives an empty table with columns.
        """
        kit = make_kit(run_id="tables")
        bucket = s3.ensure_bucket(kit)
        local = tmp_path / "small.csv"
        local.write_text("a,b\n1,2\n3,4\n")
        uri = s3.upload_file(kit, local, bucket, "runs/tables/small.csv")
        s3.upload_file(kit, local, bucket, "elsewhere/small.csv")
        assert uri == f"s3://{bucket}/runs/tables/small.csv"
        listing = s3.list_objects(kit, bucket, "runs/tables")
        assert listing.to_dict("records") == [{"key": "runs/tables/small.csv", "size (bytes)": local.stat().st_size}]
        assert s3.read_csv(kit, uri)["b"].tolist() == [2, 4]
        assert s3.read_bytes(kit, uri) == local.read_bytes()
        summary = s3.bucket_summary(kit, bucket).iloc[0].to_dict()
        assert summary["region"] == "eu-west-1" and summary[config.TAG_RUN] == "tables"
        empty = s3.list_objects(kit, bucket, "runs/nothing-here")
        assert empty.empty and list(empty.columns) == ["key", "size (bytes)"]

    def test_split_uri(self):
        """
        1. Split an s3:// URI, and try a path that is not one.
        2. Bucket and key come apart; the non-URI raises ValueError naming it.
        """
        assert s3.split_uri("s3://b/runs/x/y.csv") == ("b", "runs/x/y.csv")
        with pytest.raises(ValueError, match="'/tmp/y.csv'"):
            s3.split_uri("/tmp/y.csv")


class TestRawDataPreview:
    """02's preview reads the raw CSV with preprocess.py's own reader, so bad bytes are named there too (issue 9)."""

    def test_good_file_reads_as_the_job_reads_it(self, kit):
        """
        1. Put the kit's iris.data in a bucket; read it with s3.read_raw_data.
        2. 150 rows, the job's column names, float features and the three class names.
        """
        bucket = s3.ensure_bucket(kit)
        kit.client("s3").put_object(Bucket=bucket, Key="runs/demo/raw/iris.data",
                                    Body=(PROJECT_ROOT / "data" / "iris.data").read_bytes())
        frame = s3.read_raw_data(kit, f"s3://{bucket}/runs/demo/raw/iris.data")
        assert frame.shape == (150, 5)
        assert list(frame.columns) == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
        assert frame["sepal_length"].dtype == "float64"
        assert sorted(frame["species"].unique()) == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]

    def test_a_byte_that_is_not_utf8_is_named_with_row_and_field(self, kit):
        """
        1. Put a file whose third row has a Latin-1 byte in its petal_length field.
        2. read_raw_data raises RawDataError naming the file, the row and the field (pandas raised a bare
           UnicodeDecodeError); the object in S3 is unchanged.
        """
        bucket = s3.ensure_bucket(kit)
        body = b"5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,Iris-setosa\n4.7,3.2,1.\xe93,0.2,Iris-setosa\n"
        kit.client("s3").put_object(Bucket=bucket, Key="runs/demo/raw/mine.csv", Body=body)
        with pytest.raises(s3.RawDataError) as raised:
            s3.read_raw_data(kit, f"s3://{bucket}/runs/demo/raw/mine.csv")
        assert str(raised.value).startswith("mine.csv: row 3, field 'petal_length': bytes that are not UTF-8")
        assert kit.client("s3").get_object(Bucket=bucket, Key="runs/demo/raw/mine.csv")["Body"].read() == body

    def test_the_preview_says_why_and_lets_the_notebook_go_on(self, kit, capsys):
        """
        1. preview_raw_data on a file with a non-numeric feature in row 2.
        2. It returns None and prints that 03's job will refuse the file, with the row and field.
        """
        bucket = s3.ensure_bucket(kit)
        kit.client("s3").put_object(Bucket=bucket, Key="runs/demo/raw/iris.data",
                                    Body=b"5.1,3.5,1.4,0.2,Iris-setosa\n4.9,abc,1.4,0.2,Iris-setosa\n")
        capsys.readouterr()
        assert s3.preview_raw_data(kit, f"s3://{bucket}/runs/demo/raw/iris.data") is None
        assert capsys.readouterr().out == (
            "03's processing job will refuse this file: iris.data: row 2, field 'sepal_width': 'abc' is not a number\n")


class TestRenderDocument:
    """iam/*.json are filled with the account (from STS), region, partition, prefix and bucket."""

    @pytest.mark.parametrize("path", sorted(IAM_DIR.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
    def test_every_placeholder_filled(self, make_kit, path):
        """
        1. Render one IAM document for a Kit with its own prefix in us-west-2.
        2. No ``${`` is left, the result is a policy document, and the account is moto's STS account.
        """
        kit = make_kit(region="us-west-2", prefix="unit-kit")
        document = iam.render_document(kit, path)
        text = json.dumps(document)
        assert "${" not in text
        assert document["Version"] == "2012-10-17" and document["Statement"]
        assert kit.account in text

    def test_policies_are_scoped_to_the_kit(self, make_kit):
        """
        1. Render the three permission policies for prefix unit-kit in us-west-2.
        2. Every resource is '*' or an ARN in partition aws, this region (or none) and this account (or none).
        3. Each policy names the kit's prefix; those of fetch-data, sagemaker and states also its bucket.
        """
        kit = make_kit(region="us-west-2", prefix="unit-kit")
        for purpose in iam.ROLES:
            document = iam.render_document(kit, IAM_DIR / "policies" / f"{purpose}.json")
            resources = [r for s in document["Statement"]
                         for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
            for resource in resources:
                if resource == "*":
                    continue
                _, partition_, _, region, account, _ = resource.split(":", 5)
                assert (partition_, region in ("", "us-west-2"), account in ("", kit.account)) == (
                    "aws", True, True), resource
            text = json.dumps(resources)
            assert "unit-kit" in text
            if purpose in ("fetch-data", "sagemaker", "states"):  # the others start jobs or the pipeline
                assert f"arn:aws:s3:::{kit.names.bucket}" in text

    @pytest.mark.parametrize("region, expected", [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"),
                                                  ("us-gov-west-1", "aws-us-gov")])
    def test_partition(self, region, expected):
        """
        1. Ask for the partition of a commercial, a China and a GovCloud region.
        2. Each gets its own ARN partition.
        """
        assert iam.partition(region) == expected


class TestEnsureRole:
    """Roles are created with tags and their inline policy, and refreshed on re-runs."""

    @pytest.mark.parametrize("purpose, service", [("fetch-data", "lambda.amazonaws.com"),
                                                  ("start-training", "lambda.amazonaws.com"),
                                                  ("sagemaker", "sagemaker.amazonaws.com"),
                                                  ("states", "states.amazonaws.com")])
    def test_created_with_trust_tags_and_policy(self, make_kit, purpose, service):
        """
        1. ensure_role() for one purpose.
        2. The role is named <prefix>-<purpose>, trusts that service for this account, and is tagged.
        3. Its one inline policy is the rendered iam/policies/<purpose>.json.
        """
        kit = make_kit(run_id="roles")
        arn = iam.ensure_role(kit, purpose)
        client = kit.client("iam")
        role = client.get_role(RoleName=f"{config.KIT}-{purpose}")["Role"]
        assert role["Arn"] == arn == f"arn:aws:iam::{kit.account}:role/{config.KIT}-{purpose}"
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": service}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == kit.account
        assert {t["Key"]: t["Value"] for t in role["Tags"]} == {config.TAG_KIT: config.KIT, config.TAG_RUN: "roles"}
        assert client.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == [f"{role['RoleName']}-policy"]
        policy = client.get_role_policy(RoleName=role["RoleName"], PolicyName=f"{role['RoleName']}-policy")
        assert policy["PolicyDocument"] == iam.render_document(kit, IAM_DIR / "policies" / f"{purpose}.json")

    def test_second_call_updates_instead_of_failing(self, make_kit, monkeypatch, tmp_path, capsys):
        """
        1. ensure_role() from a copy of iam/.
        2. Edit the copy's trust and permission documents, and call ensure_role() again.
        3. Same ARN, no error, "policy refreshed", and the role now has the edited documents.
        """
        copy = tmp_path / "iam"
        shutil.copytree(IAM_DIR, copy)
        monkeypatch.setattr(iam, "IAM_DIR", copy)
        kit = make_kit()
        first = iam.ensure_role(kit, "fetch-data")

        policy_path = copy / "policies" / "fetch-data.json"
        policy = json.loads(policy_path.read_text())
        policy["Statement"].append({"Sid": "AddedLater", "Effect": "Allow", "Action": "s3:ListBucket",
                                    "Resource": "arn:${Partition}:s3:::${Bucket}"})
        policy_path.write_text(json.dumps(policy))
        trust_path = copy / "trust" / "lambda.json"
        trust = json.loads(trust_path.read_text())
        trust["Statement"][0]["Action"] = ["sts:AssumeRole", "sts:TagSession"]
        trust_path.write_text(json.dumps(trust))

        second = iam.ensure_role(kit, "fetch-data")
        assert first == second
        assert "exists, policy refreshed" in capsys.readouterr().out
        client = kit.client("iam")
        name = f"{config.KIT}-fetch-data"
        refreshed = client.get_role_policy(RoleName=name, PolicyName=f"{name}-policy")["PolicyDocument"]
        assert refreshed["Statement"][-1] == {"Sid": "AddedLater", "Effect": "Allow", "Action": "s3:ListBucket",
                                              "Resource": f"arn:aws:s3:::{kit.names.bucket}"}
        role = client.get_role(RoleName=name)["Role"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
        assert len(client.list_roles()["Roles"]) == 1


class TestEnsureRepository:
    """Repositories are <prefix>/<image>, tagged, and found again on re-runs."""

    def test_idempotent_uri(self, make_kit, capsys):
        """
        1. ensure_repository() twice for the ingest image.
        2. The same URI both times, ending in <prefix>/ingest on this account's registry in this region.
        3. One repository exists, tagged, with scan on push.
        """
        kit = make_kit(region="eu-west-1")
        first = ecr.ensure_repository(kit, "ingest")
        second = ecr.ensure_repository(kit, "ingest")
        assert first == second
        registry, _, name = first.partition("/")
        assert name == f"{config.KIT}/ingest"
        assert registry == f"{kit.account}.dkr.ecr.eu-west-1.amazonaws.com"
        out = capsys.readouterr().out
        assert f"repository {name} created" in out and f"repository {name} exists" in out
        repositories = kit.client("ecr").describe_repositories()["repositories"]
        assert [r["repositoryName"] for r in repositories] == [name]
        assert repositories[0]["imageScanningConfiguration"] == {"scanOnPush": True}
        tags = kit.client("ecr").list_tags_for_resource(resourceArn=repositories[0]["repositoryArn"])["tags"]
        assert {"Key": config.TAG_KIT, "Value": config.KIT} in tags


def _forbid_docker(monkeypatch) -> None:
    """Fail the test if publish_image runs any command."""
    def no_run(*args, **kwargs):
        raise AssertionError(f"publish_image ran a command: {args}")

    monkeypatch.setattr(ecr.subprocess, "run", no_run)


class TestPublishImageLocal:
    """On the local target nothing is built: the URI names the repository and tag."""

    @pytest.mark.parametrize("tag", ["latest", "v2"])
    def test_returns_uri_without_docker(self, make_kit, monkeypatch, tag):
        """
        1. Build a local-target Kit; make any command or Docker probe fail the test.
        2. publish_image() returns <repository URI>:<tag> and the repository exists.
        """
        _forbid_docker(monkeypatch)
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: pytest.fail("probed for Docker on local"))
        kit = make_kit(target="local")
        uri = ecr.publish_image(kit, "ingest", tag) if tag != "latest" else ecr.publish_image(kit, "ingest")
        assert uri == f"{ecr.ensure_repository(kit, 'ingest')}:{tag}"

    def test_unknown_image_creates_nothing(self, make_kit):
        """
        1. publish_image() for an image with no docker/<name>/Dockerfile.
        2. FileNotFoundError names the path, and no repository was created.
        """
        kit = make_kit(target="local")
        with pytest.raises(FileNotFoundError, match="docker/no-such-image/Dockerfile"):
            ecr.publish_image(kit, "no-such-image")
        assert kit.client("ecr").describe_repositories()["repositories"] == []


class TestPublishImageAwsWithoutDocker:
    """On AWS without a Docker engine, the error gives the commands to run elsewhere."""

    def test_docker_unavailable_lists_the_commands(self, make_kit, monkeypatch):
        """
        1. Build an aws-target Kit; no Docker engine answers; running a command fails the test.
        2. publish_image() raises DockerUnavailable.
        3. The message holds the login, the build with --provenance=false, and the push of the URI.
        """
        _forbid_docker(monkeypatch)
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: False)
        kit = make_kit(target="aws", region="eu-west-1")
        with pytest.raises(ecr.DockerUnavailable) as raised:
            ecr.publish_image(kit, "preprocess")
        uri = f"{ecr.ensure_repository(kit, 'preprocess')}:latest"
        message = str(raised.value)
        assert "--provenance=false" in message
        assert f"docker build --provenance=false --platform linux/amd64 -f docker/preprocess/Dockerfile -t {uri} ." \
            in message
        assert f"docker push {uri}" in message
        assert f"aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin " \
               f"{uri.split('/')[0]}" in message

    def test_no_docker_cli_means_no_engine(self, monkeypatch):
        """
        1. Hide the docker CLI from PATH lookups.
        2. _docker_engine_answers() is False without running anything.
        """
        _forbid_docker(monkeypatch)
        monkeypatch.setattr(ecr.shutil, "which", lambda name: None)
        assert ecr._docker_engine_answers() is False


class TestPublishImageAwsWithDocker:
    """With an engine, publish_image logs in, builds without provenance from the project root, and pushes."""

    def test_commands_run(self, make_kit, monkeypatch):
        """
        1. Pretend an engine answers and record the commands instead of running them.
        2. publish_image() runs docker login (password on stdin), build and push, in that order.
        """
        commands: list[tuple[list[str], dict]] = []
        monkeypatch.setattr(ecr, "_docker_engine_answers", lambda: True)
        monkeypatch.setattr(ecr.subprocess, "run", lambda args, **kwargs: commands.append((args, kwargs)))
        kit = make_kit(target="aws")
        uri = ecr.publish_image(kit, "ingest", "v1")
        registry = uri.split("/")[0]
        token = kit.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
        user, password = base64.b64decode(token).decode().split(":", 1)
        (login, login_kw), (build, build_kw), (push, _) = commands
        assert login == ["docker", "login", "--username", user, "--password-stdin", registry]
        assert login_kw["input"] == password and password not in " ".join(login)
        assert build[:2] == ["docker", "build"] and "--provenance=false" in build
        assert build[build.index("-t") + 1] == uri and build[build.index("-f") + 1] == "docker/ingest/Dockerfile"
        assert Path(build_kw["cwd"]) == PROJECT_ROOT
        assert push == ["docker", "push", uri]
        assert uri.endswith(f"/{config.KIT}/ingest:v1")
