"""catalog: product listings, cached in memory and backed by kv; settings come from the catalog-config ConfigMap."""

import opsgym_runtime as rt

CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF")

page_size = int(rt.env("PAGE_SIZE", "24"))
currency = rt.env("CURRENCY", "USD")
if currency not in CURRENCIES:
    rt.fail(f"unsupported CURRENCY {currency!r}: use an ISO 4217 code, one of {', '.join(CURRENCIES)}")
if page_size > 100:
    rt.warning("PAGE_SIZE above 100 makes listing pages slow", page_size=page_size)
rt.info("catalog starting", page_size=page_size, currency=currency)
kv_addr = rt.env("KV_ADDR") or rt.fail("KV_ADDR is not set: the kv store address (host:port) is required")
kv_ok = rt.dependency("kv", kv_addr)
cache_mb = int(rt.env("CACHE_MB", "32"))
rt.allocate(cache_mb, what="product cache")
products = rt.random().randint(300, 1_200)
rt.info("product cache warmed", products=products, cache_mb=cache_mb)


def listing() -> dict:
    """One listing page: the product index comes from kv."""
    return {"page_size": page_size, "currency": currency, "calls": rt.call_all({"kv": (kv_addr, "/get")})}


rt.serve(int(rt.env("PORT", "8080")), products=products, kv=kv_ok, routes={"/products": listing})
