"""kv: the shop's in-memory key-value store (a tiny Redis stand-in); config from the mounted /etc/kv/kv.conf."""

import opsgym_runtime as rt

POLICIES = ("noeviction", "allkeys-lru", "volatile-lru", "allkeys-random")

cfg = rt.read_config("/etc/kv/kv.conf")
policy = cfg["maxmemory_policy"]
if policy not in POLICIES:
    rt.fail(f"invalid maxmemory-policy {policy!r}, expected one of: {', '.join(POLICIES)}")
arena_mb = int(cfg["maxmemory_mb"])
snapshot_s = int(cfg["snapshot_interval_s"])
rt.info("kv starting", maxmemory_mb=arena_mb, policy=policy)
rt.allocate(arena_mb, what="keyspace arena")
keys = rt.random().randint(2_000, 9_000)
rt.info("snapshot loaded", keys=keys, snapshot_interval_s=snapshot_s)
if policy == "noeviction":
    rt.warning("maxmemory-policy noeviction: writes fail once the arena is full")
rt.serve(int(rt.env("PORT", "6379")), role="primary", keys=keys, routes={"/get": lambda: {"keys": keys}})
