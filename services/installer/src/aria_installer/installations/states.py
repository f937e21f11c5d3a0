"""The installation state machine: every allowed transition, written down once."""

from __future__ import annotations

from aria_platform.problems import Problem

STATES = ("configuring", "disabled", "enabled", "error", "suspended")

# action -> (states it may start from, state it ends in; None keeps the current state)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "configure": (frozenset({"configuring", "disabled", "enabled", "error", "suspended"}), None),
    "enable": (frozenset({"disabled", "error", "suspended"}), "enabled"),
    "disable": (frozenset({"enabled", "error", "suspended"}), "disabled"),
    "suspend": (frozenset({"enabled", "error"}), "suspended"),
    "sync": (frozenset({"enabled", "error"}), None),  # syncing again is how an error is cleared
    "test": (frozenset({"disabled", "enabled", "error", "suspended"}), None),
    "preview": (frozenset({"disabled", "enabled", "error", "suspended"}), None),
    "run_action": (frozenset({"enabled", "error"}), None),  # an on-demand push action, like a sync
}


def next_state(action: str, current: str) -> str:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise Problem(409, "invalid_state_transition", "Action not allowed in the current state",
                      f"cannot {action} an installation that is {current}", current_state=current,
                      allowed_from=sorted(allowed))
    if action == "configure" and current == "configuring":
        return "disabled"  # configured, ready to enable
    return target or current
