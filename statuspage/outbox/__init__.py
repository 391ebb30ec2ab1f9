"""The outbox: subscriber emails as rows, written with the change that causes them and
delivered later by the notifier. Never mail from a request.

The flow:

1. A domain change (``incidents``, ``maintenance``, ``components``, ``subscriptions``,
   ``api_write``) records what happened (``statuspage.events``); ``listeners`` hands each
   event to the queueing functions of the channels that hear of it, in the change's own
   transaction: the rows commit or roll back with the change. A staff action on the
   outbox itself (hold, release, send now) calls ``queue``. They flush; the caller
   commits.
2. The notifier process (``scheduler`` -> ``notifier.tick``) queues the outage emails
   that have become due, and the delivery engine (``engine``, ``workers``) sends them
   through the email channel (``channels.email``): claims due deliveries with a lease,
   asks again before each message whether it is still wanted (``recheck``), has
   ``compose`` render each email once per notification, audience, time zone and version
   of its incident, sends it through ``statuspage.mail`` (SMTP and MIME only), and marks
   each delivery the moment the server answers.

The modules:

- ``listeners``: who hears of each event, through which channel, in which order.
- ``rules``: settings and the pure decisions (what is due, send or cancel, retry when).
- ``audience``: who hears about what (their choices, SEV-1 to everyone).
- ``queue``: the rows, the hooks the incident domain calls, hold/release/send-now.
- ``status``: what the staff incident page shows of its emails.
- ``compose``: subjects and bodies from ``templates/email/``; one recipient's bytes.
- ``engine``: claim with a lease, settle, fail and retry, release, once for every channel;
  ``workers``: each channel's workers and their send loop; ``pace``: how fast they go.
- ``channel``: the channel interface; ``channels/``: the registry and the channels.
- ``deliveries``: the subscribers' email rows as the engine's queue; ``recheck``: just
  before each message, is it still wanted, and as of which version; ``marks``: its mark.
- ``notifier``: the tick.

The outbox never imports a view, ``incidents`` or ``subscriptions``, and they import
nothing of it but ``status``: they record events, and it listens.
"""
