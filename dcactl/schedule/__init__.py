"""Periods and the due rule, the run lock, and cron/systemd units."""
