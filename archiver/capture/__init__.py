"""Capture: the only modules on the network and the only ones writing WARC bytes."""
