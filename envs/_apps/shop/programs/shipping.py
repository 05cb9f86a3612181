"""shipping: quotes delivery rates from in-memory carrier tables; carriers are set in shipping-config."""

import opsgym_runtime as rt

carriers = [c.strip() for c in rt.env("CARRIERS", "dhl,ups").split(",") if c.strip()]
default = rt.env("DEFAULT_CARRIER", carriers[0] if carriers else "")
if default not in carriers:
    rt.fail(f"DEFAULT_CARRIER {default!r} is not among CARRIERS {carriers}")
table_mb = int(rt.env("RATE_TABLE_MB", "24"))
rt.info("shipping starting", carriers=",".join(carriers), default_carrier=default)
for carrier in carriers:
    rt.allocate(table_mb / len(carriers), what=f"{carrier} rate table")
    rt.info("rate table loaded", carrier=carrier, zones=rt.random().randint(40, 220))
rt.serve(int(rt.env("PORT", "8080")), carriers=carriers, routes={"/quote": lambda: {"carrier": default}})
