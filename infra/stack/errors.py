"""Errors of the local stack, each a one-line message a person can act on."""

from __future__ import annotations


class StackError(RuntimeError):
    """Something in the local stack could not be started, checked or stopped."""


class PrerequisiteMissing(StackError):
    """A system program is missing; the message names the package that provides it."""


class PortTaken(StackError):
    """A port the stack needs is held by a process the stack did not start."""


class HealthTimeout(StackError):
    """A component started but did not become healthy in time (message quotes its log tail)."""
