"""The sandbox's stateful backends (issue 21): real high-availability servers on private loopback
ports, each with its own config and data dir in a temp dir, stopped by PID.

redis.py: Debian's redis-server, a primary, a replica and three Sentinels (`RedisSentinelSet`);
writer.py: the durability probe's writer and reader against it, through Sentinel as a
Sentinel-aware client. The verdict over what they saw is clusters/durability.py.

Not yet wired into runs, the pods or the chaos kinds: `--stateful` is still refused.
Django-free, like the rest of `clusters/`.
"""
