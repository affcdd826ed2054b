"""What the flags are at start-up, and which seed settings the store overrides.

The seed settings (``QUEUE_TRAFFIC_PCT``...) only seed a *new* flag file; once the store holds a
flag, the store wins (it is what operators and the runbook change). :func:`startup_report` says
so in words: the flags in force, the store they come from, invalid values that fail safe, and a
warning for each seed that is set but overridden, with the command that changes the flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rollout.flags import (
    ENABLE_QUEUE_SHADOW,
    QUEUE_TRAFFIC_PCT,
    ROLLOUT_LOCK,
    ROLLOUT_STICKINESS,
    SHADOW_SAMPLE_PCT,
    RolloutFlags,
)

#: Flag name -> (its seed variable, the command that changes it).
CHANGE_COMMANDS = {
    QUEUE_TRAFFIC_PCT: ("QUEUE_TRAFFIC_PCT", "cloudfolio rollout set {value} --reason ..."),
    ENABLE_QUEUE_SHADOW: ("ENABLE_QUEUE_SHADOW", "cloudfolio rollout shadow on|off --reason ..."),
    SHADOW_SAMPLE_PCT: ("SHADOW_SAMPLE_PCT", "cloudfolio rollout shadow on --sample {value} --reason ..."),
    ROLLOUT_STICKINESS: ("ROLLOUT_STICKINESS", "PUT /admin/rollout {{\"stickiness\": \"{value}\", \"reason\": ...}}"),
    ROLLOUT_LOCK: ("ROLLOUT_LOCK", "cloudfolio rollout rollback|reenable --reason ..."),
}


@dataclass
class StartupReport:
    store: str
    flags: RolloutFlags
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        flags = self.flags
        if self.error:
            return f"flags: the {self.store} store is unreachable ({self.error}); safe defaults until it answers"
        shadow = f"shadow on, sampling {flags.shadow_sample_pct:g} %" if flags.shadow else "shadow off"
        lock = f"locked ({flags.lock[:120]})" if flags.locked else "unlocked"
        return (f"flags in force ({self.store} store): {flags.percentage:g} % of users on the queue path, {shadow}, "
                f"{flags.stickiness}, {lock}")


def startup_report(store_name: str, raw: dict[str, str] | None, flags: RolloutFlags, seed: dict[str, str],
                   error: str | None = None) -> StartupReport:
    """The report for flags read from the store (``raw``; None when the read failed) and the seed settings."""
    report = StartupReport(store_name, flags, error)
    for problem in flags.errors:
        report.warnings.append(f"invalid flag {problem}; failing safe")
    if raw is None or store_name == "env":
        return report  # the env store is the seeds themselves
    for name, value in sorted(seed.items()):
        stored = raw.get(name)
        if stored == value:
            continue
        variable, command = CHANGE_COMMANDS[name]
        report.warnings.append(
            f"{variable}={value} is set but the {store_name} store holds {name}={stored or '(unset)'}: the store wins "
            f"(the variable only seeds a new flag file). Change it with `{command.format(value=value)}`.")
    return report
