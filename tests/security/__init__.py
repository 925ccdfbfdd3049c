"""One test per finding of the security review: each failed before its fix.

The probes of the review, rerun as a new user would: a value from a place the library
trusts (configuration, Redis) or does not (the network, a webhook sender) gives a library
error or a bounded wait, never a raw exception, a hang or a leak. docs/security.md says
what is trusted and what each guarantee is.
"""
