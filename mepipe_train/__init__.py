"""mepipe-train: EIDNet and MTMNet (Xia et al., ACM MM 2020) trained under LOSO from mepipe shards."""

__version__ = "0.1.0"
