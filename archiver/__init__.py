"""archiver: keep the sources cited by articles and reader comments from rotting away unnoticed."""

__version__ = "0.1.0"
