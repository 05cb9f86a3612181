"""SRE incidents: Kubernetes scenarios rendered from real manifests, faults as patches, end-state checks."""
