"""Cluster backends: the embedded simulated cluster (default), kind, and any existing kubeconfig."""
