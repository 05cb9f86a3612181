"""The Kubernetes vocabulary, kept in one place: kinds and their aliases, quantities, label selectors, Go integers.

The kubectl front-end, the embedded simulator, the SRE checks and the scoring all speak about the same objects; each
used to carry its own alias table, quantity parser and selector matcher, and they drifted apart. This package is a
leaf (it imports only the standard library), so every layer may use it. The kubectl command-line parser itself stays
in :mod:`opsgym.cluster.kubectl` (it needs kubectl's flag table); what it reads lands in the step's action record.
"""
