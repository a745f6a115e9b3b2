"""KoyaLite provisioner: koyalite.yaml -> validated manifest -> plan -> Docker/Kubernetes."""

__version__ = "0.1.0"
