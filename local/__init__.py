"""The local stack: an AWS emulator on loopback, the API, and the worker in process."""
