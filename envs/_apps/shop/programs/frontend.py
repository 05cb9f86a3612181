"""frontend: the storefront; renders pages with a pool of workers and calls catalog, cart and checkout."""

import opsgym_runtime as rt

THEMES = ("light", "dark", "auto")

workers = int(rt.env("WORKERS", "4"))
if not 1 <= workers <= 32:
    rt.fail(f"WORKERS must be between 1 and 32, got {workers}")
theme = rt.env("THEME", "auto")
if theme not in THEMES:
    rt.fail(f"THEME {theme!r} has no stylesheet (valid: {', '.join(THEMES)})")
rt.info("frontend starting", workers=workers, theme=theme)
PATHS = {"catalog": "/products", "cart": "/cart", "checkout": "/order"}
addresses = {name: rt.env(f"{name.upper()}_ADDR", f"{name}:8080") for name in PATHS}
upstream = {name: rt.dependency(name, address) for name, address in addresses.items()}
rt.allocate(workers * int(rt.env("WORKER_MB", "8")), what="render workers")


def order() -> dict:
    """A shopper's whole visit: browse the catalog, look at the cart, check out."""
    return {"theme": theme, "calls": rt.call_all({name: (addresses[name], path) for name, path in PATHS.items()})}


rt.serve(int(rt.env("PORT", "8080")), routes={"/order": order}, **upstream)
