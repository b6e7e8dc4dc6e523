"""The fault suite (issue 8): each test tries to make intracast lose or double a message, or hang.

Real parts throughout: the daemon and the CLI as processes, SQLite, aiosmtpd
and aiohttp servers on loopback; time is shortened through the config's
knobs (timeouts, rates, leases) or a clock handed in, never by sleeping.
Each test reports what the fault did (`faults:` at the end of a run).

- test_digest_kill: SIGKILL while a 2,000-recipient digest queues, then sends;
- test_smtp_outage: the mail server restarts, is busy (421), greylists, refuses;
- test_fetch_kill: SIGKILL during a fetch cycle and while the store writes;
- test_hostile_feeds: a hanging, a dripping, a huge and an exploding feed;
- test_disk_full: the Maildir outbox's disk is full;
- test_reload_storm: 100 reloads, half broken, while screens listen and mail goes;
- test_screen_churn: a screen connecting and disconnecting 1,000 times.
"""
