"""Telling operators, by e-mail and webhooks, when the worker is refused, fails or recovers.

The log line, the status file and the Prometheus counter only help someone who looks; a
refused run waits for a person's approval, so a person must be told. The package is split so
the config can read `[notify]` (`settings`) without loading the delivery machinery:

- `settings`: the `[notify]` table and its parser;
- `incidents`: which run outcomes open and clear an incident, so each is told once;
- `messages`: a notice made into a subject and a text, in the configured language;
- `channels`: sending one message by SMTP or to one webhook; `signing`, the webhook signature;
- `outbox`: messages not yet delivered, kept in the state folder and retried with back-off;
- `alerts`: what the worker calls, tying the above together; `hooks`, the interface it sees;
- `cli`: `syncbot notify test`.

Importing this package imports nothing else.
"""
