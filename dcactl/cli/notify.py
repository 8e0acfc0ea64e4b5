"""``dcactl notify test``: check the notification setup before trusting it."""

from __future__ import annotations

import typer

from dcactl.cli import output
from dcactl.cli.apps import Group
from dcactl.cli.context import finish, state_of
from dcactl.errors import ExitCode, UsageError

notify_app = typer.Typer(cls=Group, help="Notifications and the heartbeat ([notify] in the portfolio).",
                         no_args_is_help=True)


@notify_app.command("test")
def notify_test(ctx: typer.Context) -> None:
    """Send a test message to every notification URL and ping the heartbeat; exit 1 if any failed."""
    from dcactl.notify.hooks import RunNotifier
    from dcactl.session import load

    config = load(state_of(ctx).config)
    notifier = RunNotifier.for_config(config, "notify test")
    if notifier is None:
        raise UsageError(f"{config.path}: no [notify] table: add one with urls = [\"env:DCACTL_NOTIFY_URL\"] "
                         "and/or heartbeat = \"env:DCACTL_HEARTBEAT\" (see the README, Knowing it works)")
    with output.progress("dcactl notify test: sending..."):
        deliveries = notifier.test()
    failed = [d for d in deliveries if not d.ok]
    if output.OPTIONS.json:
        output.print_json({"ok": not failed, "deliveries": [d.to_json() for d in deliveries]})
    elif not (output.OPTIONS.quiet and not failed):
        output.print_table("Notification test", ["target", "status", "detail"],
                           [[d.target, "ok" if d.ok else "FAILED", d.detail] for d in deliveries])
    finish(ExitCode.FAILED if failed else ExitCode.OK)
