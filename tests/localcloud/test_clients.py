"""localcloud.common.clients: the cloud's own boto3 clients share one data loader, not their credentials."""

from __future__ import annotations

from localcloud.common import clients


class TestSharedLoader:
    """Clients made for two jobs parse botocore's files once and still sign as their own job's role."""

    def test_two_jobs_two_keys_one_loader(self):
        """
        1. Make an S3 client with one job's keys and another with another job's (a session token on one).
        2. Each signs with its own keys; both sessions use the one shared loader.
        3. Making clients does not grow the loader's search path (boto3 adds its data folder per session).
        """
        first = clients.client("s3", "eu-west-1", "http://127.0.0.1:9", {"AWS_ACCESS_KEY_ID": "AKIAFIRSTJOB0000000",
                                                                         "AWS_SECRET_ACCESS_KEY": "one"})
        paths = list(clients._LOADER.search_paths)
        second = clients.client("s3", "eu-west-1", "http://127.0.0.1:9", {
            "AWS_ACCESS_KEY_ID": "ASIASECONDJOB000000", "AWS_SECRET_ACCESS_KEY": "two", "AWS_SESSION_TOKEN": "token"})
        one, two = (c._request_signer._credentials.get_frozen_credentials() for c in (first, second))
        assert (one.access_key, one.secret_key, one.token) == ("AKIAFIRSTJOB0000000", "one", None)
        assert (two.access_key, two.secret_key, two.token) == ("ASIASECONDJOB000000", "two", "token")
        assert clients._LOADER.search_paths == paths
        assert len(set(paths)) == len(paths)
        first.close()
        second.close()

    def test_sessions_share_the_loader(self):
        """
        1. Make two sessions.
        2. They are different sessions on the same data loader.
        """
        a, b = clients.session(), clients.session()
        assert a is not b
        assert a._session.get_component("data_loader") is b._session.get_component("data_loader") is clients._LOADER


class TestWarm:
    """``python -m localcloud --warm-clients``: the first job's S3 client finds the model already read."""

    def test_after_warm_a_client_reads_no_model(self, monkeypatch):
        """
        1. Warm S3 on a fresh shared loader, counting the data files it loads.
        2. The warm-up read S3's service model; a client made afterwards (a job's, with its keys) reads none.
        """
        import botocore.loaders

        fresh = botocore.loaders.create_loader()
        monkeypatch.setattr(clients, "_LOADER", fresh)
        loaded = []
        original = fresh.load_data_with_path
        monkeypatch.setattr(fresh, "load_data_with_path", lambda name, *a, **k: (loaded.append(name),
                                                                                 original(name, *a, **k))[1])
        clients.warm("s3")
        assert any(name.startswith("s3/") and name.endswith("/service-2") for name in loaded), loaded
        loaded.clear()
        clients.client("s3", "eu-west-1", "http://127.0.0.1:9", {"AWS_ACCESS_KEY_ID": "AKIAJOB000000000000",
                                                                 "AWS_SECRET_ACCESS_KEY": "job"}).close()
        assert [name for name in loaded if name.startswith("s3/")] == []


class TestLambdaClientWaitsForTheHandler:
    """A synchronous Invoke answers when the handler ends (up to Lambda's 900 s timeout): the cloud's Lambda
    clients wait longer than that, so botocore never sends an Invoke again while the first still runs.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (900 s function timeout);
    botocore retries a read timeout (https://docs.aws.amazon.com/botocore/latest/reference/config.html).
    """

    def test_read_timeouts(self):
        """
        1. A Lambda client: read timeout 960 s. An S3 client: botocore's 60 s.
        2. A Lambda client given a Config keeps the caller's settings and gets the read timeout; a read
           timeout the caller sets wins.
        """
        from botocore.config import Config

        keys = {"AWS_ACCESS_KEY_ID": "AKIAJOB000000000000", "AWS_SECRET_ACCESS_KEY": "job"}
        made = [clients.client("lambda", "eu-west-1", "http://127.0.0.1:9", keys),
                clients.client("s3", "eu-west-1", "http://127.0.0.1:9", keys),
                clients.client("lambda", "eu-west-1", "http://127.0.0.1:9", keys,
                               config=Config(retries={"total_max_attempts": 1})),
                clients.client("lambda", "eu-west-1", "http://127.0.0.1:9", keys, config=Config(read_timeout=5))]
        lam, s3, with_retries, own = (client.meta.config for client in made)
        assert lam.read_timeout == clients.LAMBDA_READ_TIMEOUT == 960
        assert s3.read_timeout == 60
        assert with_retries.read_timeout == 960 and with_retries.retries["total_max_attempts"] == 1
        assert own.read_timeout == 5
        for client in made:
            client.close()
