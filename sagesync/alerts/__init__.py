"""Alerts: make failure visible without anyone running `status`.

`triggers` reads what is wrong now (ledger, quarantine folders), `message` words it (secrets
masked), `channels` sends it (SMTP, JSON webhook), and `engine.evaluate` ties them together
with the alert state kept in the ledger (sagesync.ledger.alert_state): one message when a
cause appears, one when it clears, retried until a channel takes it. The CLI evaluates at the
end of each command that changes the ledger and in `sagesync alerts check`.
"""
