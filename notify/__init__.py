"""What the reports send on their own: alert notifications and scheduled reports, by e-mail
(SMTP) or signed webhook, run by the minute worker (notify/worker.py)."""
