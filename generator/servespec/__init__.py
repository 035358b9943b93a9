"""servespec: GitOps for ML model serving on Kubernetes.

Typed specs (``servespec.spec``) and YAML overlays render into committed, validated KServe
manifests (``servespec.render``, ``servespec.validate``); the command line is ``servespec.cli``.
"""

__version__ = "0.1.0"
