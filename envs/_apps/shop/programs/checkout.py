"""checkout: turns a cart into an order by calling cart, payment and shipping; tuned by checkout-config."""

import opsgym_runtime as rt

POLICIES = ("none", "linear", "exponential")
REGIONS = ("EU", "US", "UK", "APAC")

timeout_ms = int(rt.env("TIMEOUT_MS", "2500"))
policy = rt.env("RETRY_POLICY", "exponential")
if policy not in POLICIES:
    rt.fail(f"unknown RETRY_POLICY {policy!r} (valid: {', '.join(POLICIES)})")
region = rt.env("TAX_REGION", "EU")
if region not in REGIONS:
    rt.fail(f"no tax rules for TAX_REGION {region!r} (valid: {', '.join(REGIONS)})")
rt.info("checkout starting", timeout_ms=timeout_ms, retry_policy=policy, tax_region=region)
upstream = {
    "cart": (rt.env("CART_ADDR", "cart:8080"), "/cart"),
    "payment": (rt.env("PAYMENT_ADDR", "payment:8080"), "/charge"),
    "shipping": (rt.env("SHIPPING_ADDR", "shipping:8080"), "/quote"),
}
ready = {name: rt.dependency(name, address) for name, (address, _) in upstream.items()}
workers = int(rt.env("WORKERS", "2"))
rt.allocate(workers * 12, what=f"{workers} order workers")


def order() -> dict:
    """Place an order: read the cart, charge it, book the shipment."""
    return {"retry_policy": policy, "calls": rt.call_all(upstream, timeout_s=timeout_ms / 1000)}


rt.serve(int(rt.env("PORT", "8080")), routes={"/order": order}, **ready)
