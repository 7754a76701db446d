"""localcloud.clients: the cloud's own boto3 clients share one data loader, not their credentials."""

from __future__ import annotations

from localcloud import clients


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
