"""Daily runs: cron and systemd entries, and the runner they call."""
