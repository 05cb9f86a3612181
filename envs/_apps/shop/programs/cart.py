"""cart: shopping carts kept in kv; session lifetime and size limits come from the cart-config ConfigMap."""

import re

import opsgym_runtime as rt

UNITS = {"s": 1, "m": 60, "h": 3600}

max_items = int(rt.env("MAX_ITEMS", "50"))
ttl_text = rt.env("SESSION_TTL", "30m")
match = re.fullmatch(r"(\d+)([smh])", ttl_text)
if match is None:
    rt.fail(f"cannot parse SESSION_TTL {ttl_text!r}: expected a number followed by s, m or h (e.g. 30m)")
ttl_s = int(match.group(1)) * UNITS[match.group(2)]
if ttl_s < 300:
    rt.warning("SESSION_TTL under 5m logs shoppers out mid-checkout", session_ttl_s=ttl_s)
rt.info("cart starting", max_items=max_items, session_ttl_s=ttl_s)
kv_addr = rt.env("KV_ADDR") or rt.fail("KV_ADDR is not set: the kv store address (host:port) is required")
kv_ok = rt.dependency("kv", kv_addr)
rt.allocate(int(rt.env("CACHE_MB", "24")), what="session cache")


def cart() -> dict:
    """A shopper's cart, read from its session in kv."""
    return {"items": 1, "max_items": max_items, "calls": rt.call_all({"kv": (kv_addr, "/get")})}


rt.serve(int(rt.env("PORT", "8080")), kv=kv_ok, max_items=max_items, routes={"/cart": cart})
