"""The HTTP front: who may talk to the cloud (request guard, /_localcloud/info, SigV4/SigV2 signing, POST policies, the cloud's keys)."""
