"""payment: charges orders through a (simulated) provider; the API key comes from the payment-credentials Secret."""

import opsgym_runtime as rt

PROVIDERS = ("stripe-sim", "adyen-sim", "sandbox")

provider = rt.env("PROVIDER", "stripe-sim")
if provider not in PROVIDERS:
    rt.fail(f"payment provider {provider!r} is not configured; known providers: {', '.join(PROVIDERS)}")
max_amount = float(rt.env("MAX_AMOUNT", "5000"))
key = rt.read_file("/etc/payment/credentials/api-key").strip()
if not key.startswith("sk_"):
    rt.fail("api-key in payment-credentials does not look like a secret key (expected prefix sk_)")
rt.info("payment starting", provider=provider, max_amount=max_amount, key_suffix=key[-4:])
kv_addr = rt.env("KV_ADDR") or rt.fail("KV_ADDR is not set: the kv store address (host:port) is required")
kv_ok = rt.dependency("kv", kv_addr)
rt.allocate(int(rt.env("CACHE_MB", "16")), what="idempotency cache")


def charge() -> dict:
    """Authorise a charge; the idempotency record lives in kv."""
    return {"provider": provider, "authorized": True, "calls": rt.call_all({"kv": (kv_addr, "/get")})}


rt.serve(int(rt.env("PORT", "8080")), provider=provider, kv=kv_ok, routes={"/charge": charge})
