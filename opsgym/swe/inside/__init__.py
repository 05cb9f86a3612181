"""Code that runs *inside* the sandbox (stdlib only, no opsgym imports): the launcher and the network audit hook."""
